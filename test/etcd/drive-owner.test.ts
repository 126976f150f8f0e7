// test/cluster/drives/drive-owner.test.ts on the etcd store (test/helpers/test-store.ts).
process.env.EKMD_TEST_STORE = 'etcd';
require('../cluster/drives/drive-owner.test');
