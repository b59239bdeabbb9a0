#!/usr/bin/env bash
# The kiosk page's browser tests run in Debian's chromium (test/kiosk/helpers/browser.ts; CHROMIUM overrides the
# path). Installs it with apt-get when it is missing (sudo when not root); says so in one line when it cannot.
set -uo pipefail
browser="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$browser" ] && exit 0
if ! command -v apt-get > /dev/null; then
  echo "no $browser and no apt-get: install Chromium and set CHROMIUM, or the kiosk page tests fail" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo > /dev/null; then sudo="sudo"; else
    echo "no $browser and not root: apt-get install chromium, or the kiosk page tests fail" >&2
    exit 0
  fi
fi
echo "installing chromium for the kiosk page's tests (apt-get)" >&2
$sudo apt-get update >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >&2 ||
  echo "apt-get could not install chromium: the kiosk page tests will fail" >&2
exit 0
