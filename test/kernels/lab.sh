# shellcheck shell=bash
# The kernel lab's tools, sourced by setup.sh (--test): QEMU and virtme-ng
# to boot other kernels with this machine's root shared in, and Debian's
# kernels of the releases tcpulse supports. Everything lands in .tools/
# (git-ignored); each part is fetched only when missing.
#
# Kernels come from Debian's security archive on the mirror this machine's
# apt already uses, through a private apt configuration (the system's
# sources and lists stay as they are), and are unpacked with dpkg-deb -x
# (nothing goes into /boot). Each release's current kernel is taken (its
# linux-image-amd64 metapackage says which ABI), so a rebuilt security
# kernel is picked up the next time the cache is cleared.

KLAB="$TOOLS/kernel-lab"
# series  release (its -security suite)
KERNEL_RELEASES=(
  "5.10 bullseye"
  "6.1 bookworm"
  "6.12 trixie"
)

klab_tools() {
  deb qemu-system-x86 have qemu-system-x86_64
  deb busybox-static has_file /bin/busybox # virtme-ng's guest init uses it
  deb kmod have modprobe                   # modules in the guests (veth, 9p)
  # the guest init's udevd makes /dev/virtio-ports/*, through which a command's
  # output and exit status come back (udev on the host is never started)
  deb udev has_file /lib/systemd/systemd-udevd
  deb xz-utils have xz                     # vmlinuz -> vmlinux
  deb zstd have zstd
  deb libseccomp-dev has_file /usr/include/seccomp.h # virtiofsd links them
  deb libcap-ng-dev has_file /usr/include/cap-ng.h
  tool vng       # .tools/kernel-lab/venv: virtme-ng
  tool virtiofsd # .tools/kernel-lab/bin/virtiofsd: the guests' root over virtiofs
  tool kernels   # .tools/kernel-lab/kernels/SERIES: vmlinux and its modules
}

# virtiofsd shares the root with the guests far faster than 9p does (9p:
# ~9 s more per boot, and every file the agent loads is slower). Built from
# crates.io where cargo is (rustup's; Debian 12's is too old); without it
# the matrix boots over 9p.
VIRTIOFSD_VERSION=1.14.0
virtiofsd_present() { [ -x "$KLAB/bin/virtiofsd" ] || ! have cargo; }
virtiofsd_install() {
  say "building virtiofsd $VIRTIOFSD_VERSION from crates.io (about 2 min)"
  mkdir -p "$KLAB"
  cargo install -q --locked "virtiofsd@$VIRTIOFSD_VERSION" --root "$KLAB" 2>"$KLAB/virtiofsd-build.log" ||
    die "virtiofsd did not build (cargo's output: .tools/kernel-lab/virtiofsd-build.log)"
}

VNG_VERSION=1.42
vng_present() { [ "$("$KLAB/venv/bin/vng" --version 2>/dev/null | awk '{print $NF}')" = "$VNG_VERSION" ]; }
vng_install() {
  say "installing virtme-ng $VNG_VERSION into .tools/kernel-lab/venv"
  rm -rf "$KLAB/venv"
  python3 -m venv "$KLAB/venv"
  "$KLAB/venv/bin/pip" install -q --disable-pip-version-check "virtme-ng==$VNG_VERSION"
}

kernels_present() {
  local r
  for r in "${KERNEL_RELEASES[@]}"; do
    [ -s "$KLAB/kernels/${r%% *}/vmlinux" ] || return 1
  done
}
kernels_install() {
  local apt="$KLAB/apt" mirror r series release pkg deb dir
  mirror=$(grep -rhsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -m1 -- '-security' || true)
  [ -n "$mirror" ] || mirror=$(grep -hsE '^deb .*-security' /etc/apt/sources.list | awk '{print $2}' | head -n 1 || true)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian-security
  mkdir -p "$apt/sources" "$apt/lists/partial" "$apt/cache/archives/partial" "$KLAB/kernels"
  {
    printf 'Types: deb\nURIs: %s\nSuites:' "$mirror"
    for r in "${KERNEL_RELEASES[@]}"; do printf ' %s-security' "${r#* }"; done
    printf '\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
  } >"$apt/sources/kernels.sources"
  local opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/sources"
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Architecture=amd64
    -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  doing="apt-get update of the kernel lab's sources ($mirror)"
  apt-get "${opts[@]}" update -qq >&2
  for r in "${KERNEL_RELEASES[@]}"; do
    series=${r%% *} release=${r#* }
    dir="$KLAB/kernels/$series"
    [ -s "$dir/vmlinux" ] && continue
    doing="finding the $series kernel of $release"
    # linux-image-amd64 of each release depends on its current kernel ABI
    pkg=$(apt-cache "${opts[@]}" show linux-image-amd64 |
      awk -v s="$series." '/^Version:/ {v = (index($2, s) == 1)} v && /^Depends:/ {print $2; exit}')
    [ -n "$pkg" ] || die "no $series kernel in $release-security on $mirror"
    say "fetching $pkg-unsigned (Linux $series, Debian $release)"
    doing="fetching $pkg-unsigned"
    rm -rf "$dir" "$dir.tmp"
    mkdir -p "$dir.tmp"
    (cd "$apt/cache/archives" && apt-get "${opts[@]}" download -qq "$pkg-unsigned" >&2)
    deb=$(ls "$apt/cache/archives/${pkg}-unsigned_"*.deb)
    dpkg-deb -x "$deb" "$dir.tmp"
    rm -f "$deb"
    doing="decompressing the $series kernel"
    extract_vmlinux "$dir.tmp"/boot/vmlinuz-* "$dir.tmp/vmlinux" || die "no kernel found in $(basename "$dir.tmp"/boot/vmlinuz-*)"
    mv "$dir.tmp" "$dir"
  done
}

# The ELF kernel inside a bzImage, as the kernel's scripts/extract-vmlinux
# finds it: the first compressed stream that decompresses to an ELF file.
# Booting it skips QEMU's decompression (about 3 s of every boot under TCG).
extract_vmlinux() {
  local img=$1 out=$2 m name magic cmd off
  for m in 'xz:\xfd7zXZ\x00:xz -dc' 'zstd:\x28\xb5\x2f\xfd:zstd -dcq' 'gzip:\x1f\x8b\x08:gzip -dc'; do
    IFS=: read -r name magic cmd <<<"$m"
    for off in $({ LC_ALL=C grep -obUaP "$magic" "$img" || true; } | cut -d: -f1); do
      # a stream followed by the rest of the image: the decompressor complains, the output is whole
      tail -c +$((off + 1)) "$img" | $cmd >"$out" 2>/dev/null || true
      [ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] && return 0
    done
  done
  rm -f "$out"
  return 1
}
