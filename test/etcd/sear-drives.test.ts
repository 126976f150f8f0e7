// test/cluster/sear/sear-drives.test.ts on the etcd store (test/helpers/test-store.ts).
process.env.EKMD_TEST_STORE = 'etcd';
require('../cluster/sear/sear-drives.test');
