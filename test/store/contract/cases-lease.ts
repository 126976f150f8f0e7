// Contract: leases for keys that say "alive" — put under a lease, kept alive, gone when
// revoked, when the store closes, and when their holder dies (etcd: once the TTL runs
// out; SQLite: at the next open, since a lease there lives as long as its process); on
// etcd every node's view loses them.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { StoreError } from '../../../src/store';
import { client, fresh, openAt } from './backends';
import { collect, gate, race, refusal, until, type Case } from './helpers';

export const leaseCases: Record<string, Case> = {
  'leased keys: put, kept alive, deleted when the lease is revoked': {
    run: async (t, b) => {
      const { store, location } = await fresh(t, b);
      const other = b.shared ? await client(t, location) : undefined;
      const seen = collect(t, store, 'alive/');
      const lease = await store.grantLease(5);
      t.equal(lease.ttlSeconds, 5);
      const r = await lease.put('alive/n1', { node: 1 });
      t.same(store.get('alive/n1'), { key: 'alive/n1', value: { node: 1 }, revision: r });
      if (other) await until('another node sees it', () => other.get('alive/n1') !== undefined);
      await lease.keepAlive();
      await lease.revoke();
      t.equal(store.get('alive/n1'), undefined, 'gone with its lease, once revoke resolved');
      if (other) {
        await until("gone from another node's view", () => other.get('alive/n1') === undefined);
        t.equal(other.get('alive/n1'), undefined);
      }
      t.same(
        seen.changes.map((c) => c.type),
        ['put', 'delete'],
      );
      const err = await refusal(() => lease.put('alive/n1', 1));
      t.ok(err instanceof StoreError, err.message);
      t.equal(store.get('alive/n1'), undefined);
    },
  },

  'create under a lease: the first holder wins until its lease ends (an election)': {
    run: async (t, b) => {
      const { store, location } = await fresh(t, b);
      const other = await client(t, location);
      const first = await store.grantLease(5);
      const second = await other.grantLease(5);
      t.equal(await first.create('master', { node: 1 }), true, 'the first create wins');
      t.equal(await second.create('master', { node: 2 }), false, 'the second is refused');
      t.same(other.get('master')?.value, { node: 1 }, 'and reads the holder, not its own value');
      t.equal(await first.create('master', { node: 1 }), false, 'a held key is not created again');
      await store.put('plain', 1);
      await store.delete('plain');
      t.equal(await second.create('plain', 2), true, 'a deleted key is absent: created');
      await first.revoke();
      await until('the key is free everywhere', () => other.get('master') === undefined);
      t.equal(await second.create('master', { node: 2 }), true, 'free once the lease ended');
      await until(
        "the new holder in the other node's view",
        () => store.get('master') !== undefined,
      );
      t.same(store.get('master')?.value, { node: 2 });
      const err = await refusal(() => first.create('master', 3));
      t.ok(err instanceof StoreError, err.message);
      await second.revoke();
      await until('the second lease takes its keys along', () => store.get('plain') === undefined);
    },
  },

  "closing the store ends its leases, in every node's view": {
    run: async (t, b) => {
      const { location, store } = await fresh(t, b);
      const other = await client(t, location);
      const lease = await store.grantLease(30);
      await lease.put('alive/n2', 2);
      await until('the other store sees the key', () => other.get('alive/n2') !== undefined);
      const told = collect(t, other, 'alive/');
      await store.close();
      await until('the other store loses the key', () => other.get('alive/n2') === undefined);
      t.equal(other.get('alive/n2'), undefined);
      if (b.shared)
        t.same(
          told.changes.map((c) => c.type),
          ['delete'],
          'its watchers told',
        );
    },
  },

  'a leased key does not outlive a holder that died': {
    run: async (t, b) => {
      const { location, store } = await fresh(t, b);
      const child = spawn(
        process.execPath,
        [join(__dirname, 'fixtures', 'lease-holder.js'), JSON.stringify(location)],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      t.teardown(() => child.kill('SIGKILL'));
      const ready = gate();
      child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && ready.open());
      await ready.wait;
      await until('the holder’s key in this view', () => store.get('alive/child') !== undefined);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      if (b.leaseEnd === 'ttl') {
        const killed = Date.now();
        await until('the key gone', () => store.get('alive/child') === undefined, 15_000);
        const after = Date.now() - killed;
        t.ok(after < 10_000, `gone from this view ${after} ms after its holder died (TTL 2 s)`);
      } else {
        await store.close();
        const reopened = await openAt(location);
        t.teardown(() => reopened.close());
        t.equal(reopened.get('alive/child'), undefined, 'gone at the next open');
      }
    },
  },

  'a transaction that read a leased key conflicts when the lease ends': {
    run: async (t, b) => {
      const at = await fresh(t, b);
      const { store: other } = at;
      const lease = await other.grantLease(30);
      await lease.put('alive/n3', 3);
      const r = await race(t, b, at);
      await until('the racer sees the key', () => r.store.get('alive/n3') !== undefined);
      const { attempts, result } = await r.run(
        (tx) => (tx.get('alive/n3') !== undefined ? 'n3 alive' : 'n3 gone'),
        () => lease.revoke(),
      );
      t.equal(attempts, b.racer ? 2 : 1);
      t.equal(result, 'n3 gone');
    },
  },

  'lease TTLs are whole seconds, 1 to a day': {
    run: async (t, b) => {
      const { store } = await fresh(t, b);
      for (const ttl of [0, 1.5, -1, 86_401, '5']) {
        const err = await refusal(() => store.grantLease(ttl as never));
        t.ok(err instanceof StoreError);
        t.match(err.message, /^lease TTL must be/);
      }
    },
  },
};
