"""nginx in front of every farmtrace HTTP service: TLS, HTTP/2, compression, limits.

:func:`server_blocks` renders what goes into ``/etc/nginx/conf.d/farmtrace.conf``
(inside nginx's ``http {}``): one upstream and one TLS ``server`` per
:class:`VirtualHost`, a port-80 server that redirects to HTTPS, and default
servers that refuse any other host name (a request's Host header never
reaches a service it does not name). :func:`standalone_conf` wraps the same
blocks in a whole ``nginx.conf`` that runs unprivileged (``nginx -p DIR -c
FILE``): tests, and trying it out.

A host is a list of :class:`Location` values: adding one (say, map tiles
served from disk) is ``replace(host, locations=(Location(...), *host.locations))``.
Pure text: nothing here touches the file system.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = [
    "Location",
    "NginxPlan",
    "SubmitLimit",
    "VirtualHost",
    "desk_host",
    "gateway_host",
    "proxy_location",
    "server_blocks",
    "site_host",
    "standalone_conf",
    "tiles_host",
    "witness_host",
]

_SECURITY = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)
_HSTS = ("Strict-Transport-Security", "max-age=63072000")
_COMPRESSIBLE = (
    "text/plain text/css text/xml application/javascript application/json "
    "application/ld+json image/svg+xml"
)
DESK_LOGIN_ZONE = "farmtrace_desk_login"
SITE_CACHE_ZONE = "farmtrace_site"
SUBMIT_ZONE = "farmtrace_submit"
SUBMIT_PATH = "/api/v1/submit"
_SUBMIT_KEY = "$farmtrace_submit_key"
_RATE = re.compile(r"[1-9][0-9]{0,5}r/[sm]")
_SIZE = re.compile(r"[1-9][0-9]{0,5}[km]?")
_MOUNTED = "/logs/[a-z0-9][a-z0-9-]*"
_NO_STORE = "$farmtrace_upstream_no_store"
_UPSTREAM = re.compile(r"\$upstream\b")


@dataclass(frozen=True, slots=True)
class Location:
    """One ``location MATCH { directives }`` block (``match``: e.g. ``/`` or ``= /login``)."""

    match: str
    directives: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VirtualHost:
    """One service behind nginx: its public host name, its local port, its locations."""

    service: str
    """The service's name (site, desk, witness, gateway, tiles): names the upstream."""
    server_name: str
    upstream_port: int | None
    """None: no upstream (files served from disk only)."""
    locations: tuple[Location, ...]
    max_body: str = "64k"
    preamble: tuple[str, ...] = ()
    """``http {}``-level lines it needs (a rate-limit zone, a map), written once before it."""

    @property
    def upstream(self) -> str:
        """The nginx upstream's name."""
        return f"farmtrace_{self.service}"


@dataclass(frozen=True, slots=True)
class NginxPlan:
    """The hosts of one machine and how nginx listens for them.

    ``listen`` is an address (``127.0.0.1`` in tests) or empty for every
    address (IPv4 and IPv6); ``http_port`` None leaves out the redirect server.
    """

    hosts: tuple[VirtualHost, ...]
    tls_cert: Path
    tls_key: Path
    https_port: int = 443
    http_port: int | None = 80
    listen: str = ""
    upstream_host: str = "127.0.0.1"
    brotli: bool = False
    """Compress with brotli too (needs Debian's libnginx-mod-http-brotli-filter)."""
    cache_dir: Path = Path("/var/cache/nginx/farmtrace")
    """Where nginx keeps the site's page cache (it creates the directory)."""


def _headers(pairs: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    return tuple(f'add_header {name} "{value}" always;' for name, value in pairs)


def proxy_location(match: str, *extra: str) -> Location:
    """A location passed to the host's upstream over a kept-alive connection.

    ``$upstream`` in the result is replaced by the host's upstream name when rendered.
    """
    return Location(
        match,
        (
            *extra,
            "proxy_pass http://$upstream;",
            "proxy_http_version 1.1;",
            'proxy_set_header Connection "";',
            "proxy_set_header Host $host;",
            "proxy_set_header X-Forwarded-For $remote_addr;",
            "proxy_set_header X-Forwarded-Proto $scheme;",
            "proxy_connect_timeout 5s;",
            "proxy_read_timeout 60s;",
            "proxy_send_timeout 60s;",
        ),
    )


def _no_metrics() -> Location:
    """``/metrics`` never through nginx: Prometheus scrapes each service's own loopback port."""
    return Location("= /metrics", ("deny all;",))


def _microcache(seconds: int) -> tuple[str, ...]:
    """Directives that let nginx answer a page from a copy at most ``seconds`` old.

    The site marks pages ``no-cache`` (a browser revalidates every time);
    nginx may still hold one for a second, so that a popular pack's scans
    cost the site one render per second instead of one per scan. A response
    the site marks ``no-store`` or ``private``, or that sets a cookie, is
    never kept; the site's ``Vary`` (language, compression) keys the copies.
    Concurrent misses wait for one render (``proxy_cache_lock``).
    """
    return (
        f"proxy_cache {SITE_CACHE_ZONE};",
        "proxy_cache_methods GET HEAD;",
        f"proxy_cache_valid 200 {seconds}s;",
        "proxy_ignore_headers Cache-Control Expires;",
        f"proxy_no_cache {_NO_STORE};",
        "proxy_cache_lock on;",
        "proxy_cache_lock_timeout 5s;",
        "proxy_cache_use_stale updating;",
        # add_header here replaces the server's: HSTS is repeated.
        *_headers((_HSTS, ("X-Cache-Status", "$upstream_cache_status"))),
    )


def site_host(
    server_name: str,
    port: int,
    static_root: Path | None = None,
    *,
    page_cache_seconds: int = 1,
    federated: bool = False,
) -> VirtualHost:
    """The consumer site: pages, the read API, QR codes; static files from disk if given.

    ``page_cache_seconds`` > 0 lets nginx serve a page or API answer from a
    copy at most that old (see :func:`_microcache`); 0 turns it off.
    ``federated``: the site follows many logs (``site run --pins``), each
    mounted under ``/logs/<slug>/``: every log's metrics are hidden too, and
    its static files (``/logs/<slug>/static/...``) come from disk as well.
    """
    cache = _microcache(page_cache_seconds) if page_cache_seconds > 0 else ()
    locations = [_no_metrics(), proxy_location("/", *cache)]
    if federated:
        locations.insert(1, Location(f"~ ^{_MOUNTED}/metrics$", ("deny all;",)))
    if static_root is not None:
        root = str(static_root).rstrip("/") + "/"
        files = (
            "etag on;",
            *_headers((*_SECURITY, _HSTS, ("Cache-Control", "public, max-age=3600"))),
        )
        locations.insert(0, Location("^~ /static/", (f"alias {root};", *files)))
        if federated:
            mounted = Location(f"~ ^{_MOUNTED}/static/(.+)$", (f"alias {root}$1;", *files))
            locations.insert(1, mounted)
    return VirtualHost("site", server_name, port, tuple(locations))


def desk_host(server_name: str, port: int) -> VirtualHost:
    """The operators' desk: its log-in is rate-limited per client address."""
    login = proxy_location(
        "= /login", f"limit_req zone={DESK_LOGIN_ZONE} burst=5 nodelay;", "limit_req_status 429;"
    )
    return VirtualHost("desk", server_name, port, (login, proxy_location("/")))


def witness_host(server_name: str, port: int) -> VirtualHost:
    """A C2SP tlog-witness: submissions are small."""
    return VirtualHost(
        "witness", server_name, port, (_no_metrics(), proxy_location("/")), max_body="32k"
    )


@dataclass(frozen=True, slots=True)
class SubmitLimit:
    """How much one client address may ``POST /api/v1/submit`` (the endpoint has no log-in).

    ``rate`` in nginx's notation (``10r/s``, ``120r/m``), ``burst`` requests
    above it answered at once before 429s begin; ``max_body`` caps a body
    (an entry is at most 4 KiB of JWS: chain.jws.MAX_ENTRY_BYTES).

    Raises (from the constructor):
        ValueError: a rate, burst or size nginx would not take.
    """

    rate: str = "10r/s"
    burst: int = 20
    max_body: str = "8k"

    def __post_init__(self) -> None:
        if not _RATE.fullmatch(self.rate):
            raise ValueError(f"submit rate: expected e.g. 10r/s or 120r/m, found {self.rate!r}")
        if not 0 <= self.burst <= 100_000:
            raise ValueError(f"submit burst: expected 0..100000, found {self.burst}")
        if not _SIZE.fullmatch(self.max_body):
            raise ValueError(f"submit body limit: expected e.g. 8k, found {self.max_body!r}")


def _submit_locations(limit: SubmitLimit) -> tuple[Location, ...]:
    """``POST /api/v1/submit`` rate-limited per client address; over the rate, a JSON 429.

    Only POSTs count (``GET /api/v1/submit``, the clients' readiness probe,
    and receipt polls do not). The 429's body is the gateway's own form of
    a refusal (``{"reason": "rate_limited", ...}``) with ``Retry-After``:
    ``farmtrace event --submit-url`` and the desk wait and send again.
    """
    limited = "@farmtrace_submit_limited"
    body = '{"reason": "rate_limited", "error": "too many submissions: retry later"}'
    return (
        proxy_location(
            f"= {SUBMIT_PATH}",
            f"limit_req zone={SUBMIT_ZONE} burst={limit.burst} nodelay;",
            "limit_req_status 429;",
            f"client_max_body_size {limit.max_body};",
            f"error_page 429 = {limited};",
        ),
        Location(
            limited,
            (
                "default_type application/json;",
                *_headers((_HSTS, ("Retry-After", "1"))),
                f"return 429 '{body}';",
            ),
        ),
    )


def _submit_preamble(limit: SubmitLimit) -> tuple[str, ...]:
    return (
        *_block(f"map $request_method {_SUBMIT_KEY}", ['default "";', "POST $binary_remote_addr;"]),
        f"limit_req_zone {_SUBMIT_KEY} zone={SUBMIT_ZONE}:10m rate={limit.rate};",
    )


def gateway_host(server_name: str, port: int, submit: SubmitLimit | None = None) -> VirtualHost:
    """The gateway's read API, for the sites that follow it from other machines.

    ``submit``: the gateway takes signed entries over HTTP (an operator-only
    log, or a farm's with ``--http-submit``): ``POST /api/v1/submit`` passes,
    rate-limited per client address (:class:`SubmitLimit`). The kept
    checkpoint notes of other logs (``/api/v1/refs/...``) pass as the read API does.
    """
    if submit is None:
        return VirtualHost("gateway", server_name, port, (_no_metrics(), proxy_location("/")))
    return VirtualHost(
        "gateway",
        server_name,
        port,
        (_no_metrics(), *_submit_locations(submit), proxy_location("/")),
        preamble=_submit_preamble(submit),
    )


TILE_CACHE = "public, max-age=31536000, immutable"
"""How long tiles and ``block/`` files may be kept: they never change."""


def tiles_locations(root: Path) -> tuple[Location, ...]:
    """The tlog-tiles files under ``root`` as docs/tiles.md serves them.

    ``checkpoint``: ``text/plain; charset=utf-8``, ``Cache-Control: no-cache``;
    ``tile/`` and ``block/``: ``application/octet-stream`` (binary: not
    compressed), kept for a year (``immutable``); both readable from any
    origin (``Access-Control-Allow-Origin: *``: public data, no credentials),
    so that the site's pages can read them. Anything else, and the
    publisher's temporary files (``.NAME.tmp``), is a 404.
    """
    base = (f"root {root};", "types { }", "gzip off;", "etag on;")

    def headers(cache: str) -> tuple[str, ...]:
        cors = ("Access-Control-Allow-Origin", "*")
        return _headers((*_SECURITY, _HSTS, ("Cache-Control", cache), cors))

    return (
        Location("~ /\\.", ("return 404;",)),
        Location(
            "= /checkpoint",
            (*base, "default_type text/plain;", "charset utf-8;", *headers("no-cache")),
        ),
        Location(
            "~ ^/(tile|block)/",
            (*base, "default_type application/octet-stream;", *headers(TILE_CACHE)),
        ),
        Location("/", ("return 404;",)),
    )


def tiles_host(server_name: str, root: Path) -> VirtualHost:
    """A tlog-tiles directory (``farmtrace tiles --dir root``) served from disk, nothing proxied."""
    return VirtualHost("tiles", server_name, None, tiles_locations(root), max_body="1k")


def _listen(plan: NginxPlan, port: int, tail: str) -> list[str]:
    if plan.listen:
        return [f"listen {plan.listen}:{port}{tail};"]
    return [f"listen {port}{tail};", f"listen [::]:{port}{tail};"]


def _block(head: str, lines: list[str], indent: str = "") -> list[str]:
    return [f"{indent}{head} {{", *(f"{indent}    {line}" for line in lines), f"{indent}}}"]


def _tls_lines(plan: NginxPlan) -> list[str]:
    return [
        f"ssl_certificate {plan.tls_cert};",
        f"ssl_certificate_key {plan.tls_key};",
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "ssl_prefer_server_ciphers off;",
        "ssl_session_cache shared:farmtrace_tls:10m;",
        "ssl_session_timeout 1d;",
        "ssl_session_tickets off;",
    ]


def _compression(plan: NginxPlan) -> list[str]:
    lines = [
        "gzip on;",
        "gzip_vary on;",
        "gzip_proxied any;",
        "gzip_min_length 512;",
        f"gzip_types {_COMPRESSIBLE};",
    ]
    if plan.brotli:
        lines += ["brotli on;", f"brotli_types {_COMPRESSIBLE};"]
    return lines


def _server(plan: NginxPlan, host: VirtualHost) -> list[str]:
    lines = [
        *_listen(plan, plan.https_port, " ssl http2"),
        f"server_name {host.server_name};",
        *_tls_lines(plan),
        "server_tokens off;",
        f"client_max_body_size {host.max_body};",
        "client_body_timeout 15s;",
        "client_header_timeout 15s;",
        "keepalive_timeout 65s;",
        "keepalive_requests 1000;",
        *_compression(plan),
        *_headers((_HSTS,)),
    ]
    for location in host.locations:
        directives = [_UPSTREAM.sub(host.upstream, d) for d in location.directives]
        lines += _block(f"location {location.match}", directives)
    return _block("server", lines)


def server_blocks(plan: NginxPlan) -> str:
    """The ``http {}``-level configuration of ``plan`` (``conf.d/farmtrace.conf``)."""
    out = [
        "# farmtrace behind nginx: generated by 'farmtrace deploy' (docs/deploy.md).",
        "# TLS for every host; any other host name is refused.",
        f"limit_req_zone $binary_remote_addr zone={DESK_LOGIN_ZONE}:10m rate=10r/m;",
        "",
    ]
    for preamble in dict.fromkeys(host.preamble for host in plan.hosts if host.preamble):
        out += [*preamble, ""]
    if any(
        f"proxy_cache {SITE_CACHE_ZONE};" in loc.directives
        for h in plan.hosts
        for loc in h.locations
    ):
        out += [
            f"proxy_cache_path {plan.cache_dir} levels=1:2 keys_zone={SITE_CACHE_ZONE}:10m"
            " max_size=256m inactive=10m use_temp_path=off;",
            *_block(
                f"map $upstream_http_cache_control {_NO_STORE}",
                ["default 0;", "~*(no-store|private) 1;"],
            ),
            "",
        ]
    for host in plan.hosts:
        if host.upstream_port is None:
            continue
        upstream = [f"server {plan.upstream_host}:{host.upstream_port};", "keepalive 16;"]
        out += [*_block(f"upstream {host.upstream}", upstream), ""]
    for host in plan.hosts:
        out += [*_server(plan, host), ""]
    refuse = [
        *_listen(plan, plan.https_port, " ssl http2 default_server"),
        "ssl_reject_handshake on;",
        "return 421;",  # a known name's TLS, another Host header: Misdirected Request
    ]
    out += [*_block("server", refuse), ""]
    if plan.http_port is not None:
        names = " ".join(host.server_name for host in plan.hosts)
        target = "https://$host" + ("" if plan.https_port == 443 else f":{plan.https_port}")
        redirect = [
            *_listen(plan, plan.http_port, ""),
            f"server_name {names};",
            "server_tokens off;",
            f"return 308 {target}$request_uri;",
        ]
        unknown = [*_listen(plan, plan.http_port, " default_server"), "return 444;"]
        out += [*_block("server", redirect), "", *_block("server", unknown), ""]
    return "\n".join(out)


def standalone_conf(
    plan: NginxPlan, prefix: Path, mime_types: Path, *, user: str | None = None
) -> str:
    """A whole ``nginx.conf`` running ``plan`` in the foreground under ``prefix``.

    Precondition: ``prefix`` is an absolute directory the user may write (pid,
    logs, temporary files and the page cache go there); ``mime_types`` is
    nginx's ``mime.types``. Started by root, nginx runs its workers as
    ``nobody``, who cannot write a private ``prefix``: pass the user who owns
    it as ``user`` (e.g. root in a test) to keep the workers that user.
    """
    temp = prefix / "tmp"
    plan = replace(plan, cache_dir=prefix / "cache")
    http = [
        f"include {mime_types};",
        "default_type application/octet-stream;",
        f"access_log {prefix / 'access.log'};",
        *(f"{kind}_temp_path {temp / kind};" for kind in ("client_body", "proxy")),
        *(f"{kind}_temp_path {temp / kind};" for kind in ("fastcgi", "uwsgi", "scgi")),
        *server_blocks(plan).splitlines(),
    ]
    return "\n".join(
        [
            "daemon off;",
            *([f"user {user};"] if user else []),
            "worker_processes 2;",
            f"pid {prefix / 'nginx.pid'};",
            f"error_log {prefix / 'error.log'} warn;",
            *_block("events", ["worker_connections 1024;"]),
            *_block("http", http),
            "",
        ]
    )
