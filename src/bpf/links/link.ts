/** An attachment of a program to a hook. close() detaches; it is idempotent. */
export interface Link {
  /** e.g. "xdp/driver veth0", "tcx/egress veth0" */
  readonly description: string;
  close(): void;
}

/** The kernel's enum bpf_attach_type values we use (uapi, stable). */
export const AttachType = {
  xdp: 37,
  tcxIngress: 46,
  tcxEgress: 47,
} as const;
