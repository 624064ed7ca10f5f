"""Does the configured Python mirror answer? Asked once per build, before choosing.

uv-managed Pythons are only on offer while the mirror (``python_install_mirror``)
answers: otherwise a build would pick, say, Python 3.10 and fail deep inside the
image build with a download error. Any HTTP answer counts (a mirror's root may be
a 404); a refused connection, an unknown host or a timeout does not, and the
reason goes into the warning or error the person sees.
"""

from __future__ import annotations

import urllib.error
import urllib.request

PROBE_TIMEOUT = 5.0


def mirror_problem(url: str, timeout: float = PROBE_TIMEOUT) -> str:
    """"" when ``url`` answers HTTP; otherwise why not, as a phrase ("does not answer (…)")."""
    request = urllib.request.Request(url.rstrip("/") + "/", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 - configured URL
            return ""
    except urllib.error.HTTPError:
        return ""  # it answered
    except urllib.error.URLError as exc:
        return f"does not answer ({exc.reason})"
    except TimeoutError:
        return f"does not answer (no reply within {timeout:g} s)"
    except (OSError, ValueError) as exc:
        return f"does not answer ({exc})"
