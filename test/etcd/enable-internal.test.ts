// test/cluster/hardware-ear/enable-internal.test.ts on the etcd store (test/helpers/test-store.ts).
process.env.EKMD_TEST_STORE = 'etcd';
require('../cluster/hardware-ear/enable-internal.test');
