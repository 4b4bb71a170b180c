#!/usr/bin/env bash
# Makes the Firestore emulator and the Java it runs on available, for `make test`, `make run` and .ci/run.
#
# The emulator is Google's own: it ships only in Google Cloud's Debian repository
# (google-cloud-cli-firestore-emulator) or as a gcloud component; no package registry (PyPI, npm, Maven,
# Debian) carries it, and firebase-tools downloads it at run time from Google's storage. So, in order:
#   1. already there: FIRESTORE_EMULATOR_BIN, or the platform/cloud-firestore-emulator of an SDK;
#   2. an SDK installed by hand (not by apt): `gcloud components install cloud-firestore-emulator`;
#   3. apt, adding Google Cloud's repository first when apt does not know the package.
# Java comes from Debian (openjdk-17-jre-headless). Installing needs root, as apt does.
set -euo pipefail

SDK_EMULATOR=platform/cloud-firestore-emulator/cloud_firestore_emulator
PACKAGE=google-cloud-cli-firestore-emulator

# Where an SDK may live (its apt package, or an archive unpacked by hand); GOOGLE_CLOUD_SDK_ROOTS replaces
# the list (space-separated), as the tests of this script do.
read -r -a SDK_ROOTS <<< "${GOOGLE_CLOUD_SDK_ROOTS:-/usr/lib/google-cloud-sdk /usr/share/google-cloud-sdk /google-cloud-sdk}"

emulator_present() {
  if [ -n "${FIRESTORE_EMULATOR_BIN:-}" ] && [ -x "$FIRESTORE_EMULATOR_BIN" ]; then return 0; fi
  local roots=("${SDK_ROOTS[@]}")
  if command -v gcloud >/dev/null; then
    roots=("$(dirname "$(dirname "$(readlink -f "$(command -v gcloud)")")")" "${roots[@]}")
  fi
  for root in "${roots[@]}"; do
    [ -x "$root/$SDK_EMULATOR" ] && return 0
  done
  return 1
}

apt_knows() {
  apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [0-9]'
}

if ! command -v java >/dev/null; then
  apt-get update -q
  apt-get install -y -q openjdk-17-jre-headless
fi

emulator_present && exit 0

# An SDK installed from Google's archive manages its own components.
if command -v gcloud >/dev/null && gcloud components install cloud-firestore-emulator --quiet 2>/dev/null; then
  emulator_present && exit 0
fi

apt_knows "$PACKAGE" || apt-get update -q
if ! apt_knows "$PACKAGE"; then
  echo "Adding Google Cloud's Debian repository for $PACKAGE" >&2
  apt-get install -y -q ca-certificates curl gnupg
  if curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg \
      | gpg --dearmor --yes -o /usr/share/keyrings/cloud.google.gpg; then
    echo "deb [signed-by=/usr/share/keyrings/cloud.google.gpg] https://packages.cloud.google.com/apt cloud-sdk main" \
      > /etc/apt/sources.list.d/google-cloud-sdk.list
    apt-get update -q || true
  fi
fi
if apt_knows "$PACKAGE"; then
  apt-get install -y -q "$PACKAGE"
fi

if ! emulator_present; then
  cat >&2 <<'MESSAGE'
The Firestore emulator is not installed, and Google Cloud's Debian repository cannot be reached from
here. It is Google's own program and no other package registry carries it. Install it where Google's
repository is reachable (apt-get install google-cloud-cli-firestore-emulator, or
gcloud components install cloud-firestore-emulator), or point FIRESTORE_EMULATOR_BIN at its
cloud_firestore_emulator script; the tests need it.
MESSAGE
  exit 1
fi
