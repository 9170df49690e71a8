# Helpers for the scripts that prepare things from Debian packages
# (guest-kit.sh, lab-kit.sh). Source it; it defines functions only.

# as_root CMD ARGS...: runs CMD as root, through sudo when not root already.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# apt_install PKG...: installs the packages that are missing, quietly.
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 || {
    as_root apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  }
}

# deb_fetch DIR PKG: prints the newest .deb of PKG in DIR, downloading it
# with `apt-get download` when DIR has none (after `apt-get update` when the
# first try fails). Fails, with apt's message on stderr, when apt cannot.
deb_fetch() {
  local dir=$1 pkg=$2 deb
  deb=$(ls -1 "$dir/${pkg}_"*.deb 2>/dev/null | sort -V | tail -1 || true)
  if [[ -z $deb ]]; then
    echo "downloading $pkg" >&2
    if ! (cd "$dir" && apt-get download "$pkg" >&2 2>/dev/null); then
      as_root apt-get update -q >&2 || true
      (cd "$dir" && apt-get download "$pkg" >&2) || return 1
    fi
    deb=$(ls -1 "$dir/${pkg}_"*.deb 2>/dev/null | sort -V | tail -1)
  fi
  [[ -n $deb ]] || return 1
  echo "$deb"
}

# kernel_image_package: the versioned image package linux-image-amd64
# depends on (linux-image-6.1.0-NN-amd64).
kernel_image_package() {
  { apt-cache depends linux-image-amd64 2>/dev/null || true; } | awk '/Depends: linux-image-/ {print $2; exit}'
}
