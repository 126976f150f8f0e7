// test/cluster/hardware-ear/secure-erase.test.ts on the etcd store (test/helpers/test-store.ts).
process.env.EKMD_TEST_STORE = 'etcd';
require('../cluster/hardware-ear/secure-erase.test');
