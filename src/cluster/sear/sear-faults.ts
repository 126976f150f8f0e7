// The MK's key servers as cluster faults: kmipServerFault per key server while the MK cannot
// be fetched (the drives stay detached), resolved once it can — the same code, subject and
// details style as boot unlock's, so one fault stands for one key server whichever service
// saw it fail.
import type { StoreTx } from '../../store/store';
import type { FaultService } from '../faults';
import { serversOfProvider } from '../kmip-records';

/** kmipServerFault per key server of the MK's provider, as boot unlock reports them. */
export function reportMasterKeyProvider(
  store: StoreTx,
  faults: FaultService | undefined,
  keyProviderID: number | null,
  cause: string | undefined,
): void {
  if (!faults || keyProviderID === null) return;
  for (const s of serversOfProvider(store, keyProviderID)) {
    const subject = { keyServerID: s.keyServerID };
    if (cause === undefined) faults.resolve('kmipServerFault', subject);
    else
      faults.raise(
        'kmipServerFault',
        subject,
        `Key server ${s.kmipKeyServerName} (${s.kmipKeyServerHostnames.join(', ')}:${s.kmipKeyServerPort}) of key provider ${keyProviderID}: software encryption master key: ${cause}`,
        { data: { keyServerID: s.keyServerID, keyProviderID } },
      );
  }
}
