// Secrets at rest (the cluster private key, the API's TLS key) are sealed under the
// node's sealing root. The daemon supplies the implementation; the label binds a sealed
// blob to its purpose so one cannot be swapped for another.
export interface Sealer {
  seal(plain: Buffer, label: string): Buffer;
  unseal(sealed: Buffer, label: string): Buffer;
}
