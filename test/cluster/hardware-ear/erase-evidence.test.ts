// What a restart concludes about a journaled erase from the journal and the drive's status:
// only a Locking SP seen active before the revert and inactive now proves the revert, and a
// drive answering with errors proves nothing.
import t from 'tap';
import { revertEvidence } from '../../../src/cluster/hardware-ear/drive-revert';
import { OpalStatusFlag } from '../../../src/opal/abi';
import { describeStatus } from '../../../src/opal/drive';

const active = describeStatus(
  OpalStatusFlag.SUPPORTED | OpalStatusFlag.LOCKING_SUPPORTED | OpalStatusFlag.LOCKING_ENABLED,
);
const inactive = describeStatus(OpalStatusFlag.SUPPORTED | OpalStatusFlag.LOCKING_SUPPORTED);
const journal = (lockingEnabled: boolean) => ({ sidKeyID: 'k1', lockingEnabled });

t.equal(revertEvidence(undefined, active), 'notSent', 'no journal: nothing was sent');
t.equal(revertEvidence(undefined, inactive), 'notSent', 'no journal, whatever the status');
t.equal(revertEvidence(journal(true), active), 'notSent', 'Locking SP still active');
t.equal(revertEvidence(journal(false), active), 'notSent', 'activated since: not reverted');
t.equal(revertEvidence(journal(true), inactive), 'reverted', 'active before, inactive now');
t.equal(revertEvidence(journal(false), inactive), 'unknown', 'inactive before and now');

t.throws(
  () => revertEvidence(journal(true), describeStatus(0)),
  /I\/O errors/,
  'a drive answering with errors (all-zero flags) is no evidence of a revert',
);
