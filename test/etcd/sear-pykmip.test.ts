// test/integration/sear-pykmip.test.ts on the etcd store (test/helpers/test-store.ts).
process.env.EKMD_TEST_STORE = 'etcd';
require('../integration/sear-pykmip.test');
