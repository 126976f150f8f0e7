// test/integration/sear-crash.test.ts on the etcd store (test/helpers/test-store.ts).
process.env.EKMD_TEST_STORE = 'etcd';
require('../integration/sear-crash.test');
