"""A storage URL shown without its secrets: every password form libpq accepts (the userinfo
password, the ``password`` and ``sslpassword`` query parameters, in any case or percent-encoding,
libpq's ``password=...`` keyword form) masked wherever it occurs, and a URL that cannot be
parsed shown only as its scheme. What tune prints, stores in results.json and puts in its errors
goes through ``redact`` (a URL) or ``_hide`` (a message that may quote one).
"""
from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus, urlsplit, urlunsplit

SECRET_PARAMS = ("password", "sslpassword")
_KEYWORD_SECRET = re.compile(r"(?i)\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")


def _query_secrets(query: str) -> list[tuple[int, str]]:
    """(index, raw value) of each secret parameter among the ``&``-separated fields."""
    out = []
    for i, field in enumerate(query.split("&")):
        key, sep, value = field.partition("=")
        if sep and value and unquote_plus(key).strip().lower() in SECRET_PARAMS:
            out.append((i, value))
    return out


def _passwords(url: str) -> list[str]:
    """Every password in ``url`` -- in its userinfo (as ``urlsplit`` and as SQLAlchemy read
    it) and in its query -- as written and percent-decoded, longest first. ValueError if
    ``url`` cannot be parsed."""
    parts = urlsplit(url)
    found = []
    for userinfo in (parts.netloc.rpartition("@")[0], parts.netloc.partition("@")[0]):
        if "@" in parts.netloc and ":" in userinfo:
            password = userinfo.partition(":")[2]
            found += [password, *password.split("@")]   # SQLAlchemy ends it at the first @
    found += [value for _, value in _query_secrets(parts.query)]
    found += [unquote_plus(p) for p in found] + [unquote(p) for p in found]
    return sorted({p for p in found if p}, key=len, reverse=True)


def _mask(text: str, password: str) -> str:
    """``text`` with ``password`` replaced by ***. A password of 6 characters or more is masked
    wherever it occurs; a shorter one only where it stands alone (not inside a longer word or
    number), so that a one-letter password does not turn "postgresql" into "***ostgresql"."""
    if len(password) >= 6:
        return text.replace(password, "***")
    edge = "A-Za-z0-9"
    return re.sub(f"(?<![{edge}]){re.escape(password)}(?![{edge}])", "***", text)


def _scheme_only(url: str) -> str:
    """What is shown of a URL that cannot be parsed: its scheme, ``postgresql://...``."""
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://..." if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme) \
        else "..."


def redact(url: str) -> str:
    """``url`` with every password replaced by ***, for printing and results.json: the
    userinfo's, and the ``password`` and ``sslpassword`` query parameters' (any case or
    percent-encoding). A URL that cannot be parsed is shown only as its scheme."""
    if "://" not in url:   # not a URL: mask libpq's keyword=value form, if that is what it is
        return _KEYWORD_SECRET.sub(r"\1***", url)
    try:
        parts = urlsplit(url)
        secrets = _passwords(url)
    except ValueError:
        return _scheme_only(url)
    if not secrets:
        return url
    userinfo, at, host = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:***{at}{host}"
    fields = parts.query.split("&")
    for i, _ in _query_secrets(parts.query):
        fields[i] = f"{fields[i].partition('=')[0]}=***"
    text = urlunsplit(parts._replace(netloc=netloc, query="&".join(fields)))
    for password in secrets:
        text = _mask(text, password)
    return text


def _hide(text: str, url: str) -> str:
    """``text`` (an error's detail) without any password of ``url``; for a URL that cannot be
    parsed, without any of the URL after its scheme."""
    try:
        secrets = _passwords(url)
    except ValueError:
        rest = url.partition("://")[2]
        if rest:
            text = text.replace(rest, "...")
        secrets = [m for m in re.findall(r":([^:/@]+)@", rest)]
    for password in secrets:
        text = _mask(text, password)
    return _KEYWORD_SECRET.sub(r"\1***", text)


#: What to ``pip install`` for a database driver module that SQLAlchemy could not import.


__all__ = ["SECRET_PARAMS", "redact"]
