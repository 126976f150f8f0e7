// test/integration/secret-leak.test.ts on the etcd store (test/helpers/test-store.ts): the
// secrets are also looked for in a snapshot of etcd's whole backend.
process.env.EKMD_TEST_STORE = 'etcd';
require('../integration/secret-leak.test');
