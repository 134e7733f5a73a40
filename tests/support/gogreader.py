"""An independent reader of GOG Galaxy content-system v2 repositories.

Written only from the format reference (``gog-content-system.md``, cited below as "ref §n")
and real GOG documents, never from the publisher's code, so that it can serve as an
acceptance test: every published build must rebuild byte for byte from the repository
alone, and every published patch must decode with the ``xdelta3`` command-line tool.

Standard library only. Two ways to reach a repository:

- :class:`DirSource` reads the repository folder; builds and patch pairs come from the
  static ``products/<p>/os/<os>/builds.json`` and ``products/<p>/patches/<a>/<b>.json``;
- :class:`HttpSource` talks to a server through GOG's content-system endpoints
  (builds, secure_link, patches; ref §2.1, §4.5, §5.1).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

Json = dict[str, Any]

EMPTY_MD5 = hashlib.md5(b"").hexdigest()
XDELTA3 = "xdelta3"
STORE = "/content-system/v2/store"
META = "/content-system/v2/meta"
PATCH_STORE = "/content-system/v2/patches/store"
PATCH_META = "/content-system/v2/patches/meta"
_BLOCK = 1 << 20


class ReaderError(Exception):
    """Anything the reader could not fetch, parse or verify; the message names what."""


class NotFoundError(ReaderError):
    """A document or chunk does not exist in the repository (missing file or HTTP 404)."""


# --------------------------------------------------------------------------------------
# Small format helpers


def galaxy_path(hash_: str) -> str:
    """``ab/cd/abcd…`` for a 32-hex hash; a value already containing ``/`` is kept (ref §0)."""
    if "/" in hash_:
        return hash_
    return f"{hash_[0:2]}/{hash_[2:4]}/{hash_}"


def md5_hex(data: bytes) -> str:
    """MD5 of ``data`` as lower-case hex."""
    return hashlib.md5(data).hexdigest()


def read_zlib_json(data: bytes) -> Any:
    """Decode a zlib (RFC 1950) JSON document, falling back to plain JSON (ref §0)."""
    try:
        text = zlib.decompress(data)
    except zlib.error:
        text = data
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReaderError(f"document is neither zlib JSON nor JSON: {exc}") from exc


def _inflate(body: bytes, what: str) -> bytes:
    """Inflate one complete zlib stream with nothing after it."""
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(body)
    except zlib.error as exc:
        raise ReaderError(f"{what}: not a zlib stream: {exc}") from exc
    if not inflater.eof or inflater.unused_data:
        raise ReaderError(f"{what}: truncated zlib stream or data after its end")
    return data


def normalize_path(path: str) -> str:
    """A depot path as relative POSIX text: ``\\`` → ``/``, outer separators stripped (ref §4.2).

    Refuses empty paths and ``.``/``..`` components, which could escape the target folder.
    """
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise ReaderError(f"unsafe or empty depot path {path!r}")
    return "/".join(parts)


def file_md5(item: Mapping[str, Any]) -> str | None:
    """The expected MD5 of a DepotFile: its ``md5``, else a lone chunk's md5, else empty."""
    if item.get("md5"):
        return str(item["md5"])
    chunks = item.get("chunks") or []
    if len(chunks) == 1:
        return str(chunks[0]["md5"])
    if not chunks:
        return EMPTY_MD5
    return None


def product_names(manifest: Mapping[str, Any]) -> dict[str, str]:
    """``{productId: name}`` for the base game and every DLC of a build manifest (ref §3.2)."""
    return {str(p["productId"]): str(p["name"]) for p in manifest.get("products", [])}


def select_depots(manifest: Mapping[str, Any], lang: str) -> list[Json]:
    """The build's depots whose ``languages`` hold ``"*"`` or ``lang`` (ref §3.3).

    ``offlineDepot`` is never selected (ignored by every client), nor is ``osBitness`` used.
    """
    return [d for d in manifest.get("depots", []) if _language_matches(d, lang)]


def _language_matches(depot: Mapping[str, Any], lang: str) -> bool:
    languages = depot.get("languages") or []
    return "*" in languages or lang in languages


# --------------------------------------------------------------------------------------
# Endpoint objects (ref §2.2, §4.4, §4.5)


def order_endpoints(endpoints: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Endpoints best first: higher ``priority`` first, ``fallback_only`` ones last.

    Ties keep the document order. Endpoints whose ``supports_generation`` lacks 2 are dropped.
    """
    usable = [
        e for e in endpoints if "supports_generation" not in e or 2 in e["supports_generation"]
    ]
    return sorted(
        usable, key=lambda e: (bool(e.get("fallback_only")), -float(e.get("priority") or 0))
    )


def endpoint_url(endpoint: Mapping[str, Any], suffix: str = "") -> str:
    """The URL of an endpoint object, with ``suffix`` appended to ``parameters.path``.

    Every ``{key}`` of ``url_format`` is replaced by ``parameters[key]`` (ref §4.4). With no
    ``path`` parameter the suffix goes after ``url`` (or ``url_format``), as gog-warp does.
    """
    params = {str(k): str(v) for k, v in (endpoint.get("parameters") or {}).items()}
    template = str(endpoint.get("url_format") or "")
    if "path" in params:
        params["path"] += suffix
    for key, value in params.items():
        template = template.replace("{" + key + "}", value)
    if template and "path" in params:
        return template
    base = template or str(endpoint.get("url") or "")
    return base.rstrip("/") + suffix if suffix else base


def build_links(item: Mapping[str, Any]) -> list[str]:
    """Where a builds item's manifest lives: its ``urls[]`` best first, else its ``link``."""
    if item.get("urls"):
        return [endpoint_url(e) for e in order_endpoints(item["urls"])]
    if item.get("link"):
        return [str(item["link"])]
    raise ReaderError(f"build {item.get('build_id')!r} has neither urls nor link")


# --------------------------------------------------------------------------------------
# Sources


class Source(ABC):
    """A repository reachable by root-relative paths such as ``/content-system/v2/meta/…``."""

    @abstractmethod
    def get(self, path: str) -> bytes:
        """The bytes at a root-relative path or absolute URL; NotFoundError when missing."""

    @abstractmethod
    def builds_response(self, product: str, os: str) -> Json:
        """The GOG builds response for one product and OS (ref §2)."""

    @abstractmethod
    def patch_index(self, product: str, from_build: str, to_build: str) -> Json | None:
        """The patch-index document for a build pair, or None when there is no patch (§5.1)."""

    @abstractmethod
    def chunk_locations(self, product: str, compressed_md5: str, *, patch: bool) -> list[str]:
        """Candidate locations of a chunk (build store, or patch store if ``patch``), best first."""

    def get_first(self, locations: Sequence[str], what: str) -> bytes:
        """The bytes at the first of ``locations`` that can be fetched."""
        errors: list[ReaderError] = []
        for location in locations:
            try:
                return self.get(location)
            except ReaderError as exc:
                errors.append(exc)
        missing = bool(errors) and all(isinstance(e, NotFoundError) for e in errors)
        kind = NotFoundError if missing else ReaderError
        raise kind(f"{what}: cannot be fetched: {'; '.join(map(str, errors)) or 'no location'}")


class DirSource(Source):
    """A repository folder laid out as the publisher writes it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def local_path(self, path: str) -> Path:
        """The file for a root-relative path; of an absolute URL only the path is used."""
        if path.startswith(("http://", "https://")):
            path = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
        target = (self.root / path.lstrip("/")).resolve()
        if not target.is_relative_to(self.root):
            raise ReaderError(f"path {path!r} leaves the repository")
        return target

    def get(self, path: str) -> bytes:
        """Read the file at ``path`` (see :meth:`local_path`)."""
        target = self.local_path(path)
        try:
            return target.read_bytes()
        except FileNotFoundError as exc:
            raise NotFoundError(f"{path}: not in the repository ({target})") from exc
        except OSError as exc:
            raise ReaderError(f"{path}: cannot read {target}: {exc}") from exc

    def builds_response(self, product: str, os: str) -> Json:
        """``products/<product>/os/<os>/builds.json``."""
        path = f"/products/{product}/os/{os}/builds.json"
        return _as_object(read_zlib_json(self.get(path)), path)

    def patch_index(self, product: str, from_build: str, to_build: str) -> Json | None:
        """``products/<product>/patches/<from>/<to>.json``; None if missing or an error."""
        path = f"/products/{product}/patches/{from_build}/{to_build}.json"
        try:
            doc = _as_object(read_zlib_json(self.get(path)), path)
        except NotFoundError:
            return None
        return None if doc.get("error") else doc

    def chunk_locations(self, product: str, compressed_md5: str, *, patch: bool) -> list[str]:
        """``…/v2/[patches/]store/<product>/ab/cd/<compressedMd5>``."""
        return [f"{PATCH_STORE if patch else STORE}/{product}/{galaxy_path(compressed_md5)}"]


class HttpSource(Source):
    """A server implementing GOG's content-system endpoints and serving the CDN paths.

    ``base_url`` is the repository root: root-relative paths are appended to it (so a base
    with a path prefix keeps it). ``token``, if given, goes as a Bearer header on API calls.
    """

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._secure_links: dict[tuple[str, bool], list[Mapping[str, Any]]] = {}

    def url(self, path: str) -> str:
        """An absolute URL for a root-relative path; absolute URLs are kept."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def get(self, path: str) -> bytes:
        """GET a CDN path or URL, without authentication (ref §0)."""
        return self._request(self.url(path), auth=False)

    def _request(self, url: str, *, auth: bool) -> bytes:
        request = urllib.request.Request(url)
        if auth and self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 404:
                raise NotFoundError(f"{url}: HTTP 404") from exc
            raise ReaderError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ReaderError(f"{url}: {exc}") from exc

    def _api(self, path_and_query: str) -> Json:
        url = self.url(path_and_query)
        return _as_object(read_zlib_json(self._request(url, auth=True)), url)

    def builds_response(self, product: str, os: str) -> Json:
        """``GET /products/{p}/os/{os}/builds?generation=2&_version=2``."""
        p, o = _q(product), _q(os)
        return self._api(f"/products/{p}/os/{o}/builds?generation=2&_version=2")

    def patch_index(self, product: str, from_build: str, to_build: str) -> Json | None:
        """``GET /products/{p}/patches?_version=4&from_build_id=…&to_build_id=…``."""
        query = f"_version=4&from_build_id={_q(from_build)}&to_build_id={_q(to_build)}"
        try:
            doc = self._api(f"/products/{_q(product)}/patches?{query}")
        except NotFoundError:
            return None
        return None if doc.get("error") else doc

    def secure_link(self, product: str, *, patch: bool) -> list[Mapping[str, Any]]:
        """The product's secure-link endpoints, best first, fetched once (ref §4.5, §5.4)."""
        key = (product, patch)
        if key not in self._secure_links:
            query = "_version=2&generation=2&path=/" + ("&root=/patches/store" if patch else "")
            doc = self._api(f"/products/{_q(product)}/secure_link?{query}")
            endpoints = order_endpoints(doc.get("urls") or [])
            if not endpoints:
                raise ReaderError(f"secure_link of product {product}: no usable urls")
            self._secure_links[key] = endpoints
        return self._secure_links[key]

    def chunk_locations(self, product: str, compressed_md5: str, *, patch: bool) -> list[str]:
        """One URL per secure-link endpoint: ``parameters.path + /ab/cd/<md5>`` (ref §4.4)."""
        suffix = "/" + galaxy_path(compressed_md5)
        return [endpoint_url(e, suffix) for e in self.secure_link(product, patch=patch)]


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _as_object(doc: Any, what: str) -> Json:
    if not isinstance(doc, dict):
        raise ReaderError(f"{what}: expected a JSON object, got {type(doc).__name__}")
    return doc


# --------------------------------------------------------------------------------------
# Builds and manifests


def list_builds(src: Source, product: str, os: str) -> list[Json]:
    """The generation-2 items of the product's builds list, in the listed order (newest first)."""
    doc = src.builds_response(product, os)
    return [item for item in doc.get("items") or [] if item.get("generation") == 2]


def load_build(src: Source, product: str, build_id: str, os: str) -> Json:
    """The build manifest ("meta", ref §3) of one generation-2 build."""
    items = [i for i in list_builds(src, product, os) if str(i.get("build_id")) == build_id]
    if not items:
        raise ReaderError(f"build {build_id} of product {product}/{os} is not listed")
    what = f"build manifest of {build_id}"
    manifest = _as_object(read_zlib_json(src.get_first(build_links(items[0]), what)), what)
    if manifest.get("version") != 2:
        raise ReaderError(f"{what}: version {manifest.get('version')!r}, expected 2")
    for key, want in (("buildId", build_id), ("baseProductId", product)):
        if key in manifest and str(manifest[key]) != want:
            raise ReaderError(f"{what}: {key} expected {want}, got {manifest[key]}")
    return manifest


def load_depot(src: Source, manifest_id: str, *, patch: bool = False) -> Json:
    """The ``depot`` object of a depot manifest (``patches/meta`` if ``patch``; ref §4.1, §5.3)."""
    path = f"{PATCH_META if patch else META}/{galaxy_path(manifest_id)}"
    doc = _as_object(read_zlib_json(src.get(path)), path)
    if doc.get("version", 2) != 2:
        raise ReaderError(f"{path}: version {doc.get('version')!r}, expected 2")
    depot = doc.get("depot")
    if not isinstance(depot, dict) or not isinstance(depot.get("items"), list):
        raise ReaderError(f"{path}: no depot.items")
    return depot


def fetch_chunk(src: Source, product: str, chunk: Mapping[str, Any], *, patch: bool) -> bytes:
    """One chunk's bytes, verified: compressed MD5 (before inflating), sizes, then MD5."""
    cmd5 = str(chunk["compressedMd5"])
    what = f"{'patch ' if patch else ''}chunk {cmd5} of product {product}"
    body = src.get_first(src.chunk_locations(product, cmd5, patch=patch), what)
    got = md5_hex(body)
    if got != cmd5:
        raise ReaderError(f"{what}: compressedMd5 expected {cmd5}, got {got}")
    if "compressedSize" in chunk and len(body) != chunk["compressedSize"]:
        raise ReaderError(
            f"{what}: compressedSize expected {chunk['compressedSize']}, got {len(body)}"
        )
    data = _inflate(body, what)
    if "size" in chunk and len(data) != chunk["size"]:
        raise ReaderError(f"{what}: size expected {chunk['size']}, got {len(data)}")
    got = md5_hex(data)
    if got != chunk["md5"]:
        raise ReaderError(f"{what}: md5 expected {chunk['md5']}, got {got}")
    return data


# --------------------------------------------------------------------------------------
# Rebuilding a build


def rebuild(
    src: Source,
    product: str,
    build_id: str,
    os: str,
    dest: Path,
    lang: str = "en-US",
    *,
    use_sfc: bool = False,
) -> dict[str, str]:
    """Write a build into ``dest``; return ``{relative posix path: md5}`` of every file written.

    Depots are selected by :func:`select_depots`; each file's chunks come from the store of
    its depot's ``productId``. ``support`` files go to ``dest/gog-support/<productId>/``.
    With ``use_sfc`` members of a small-files container are cut from it (ref §4.6).
    Directories and links are created but not listed in the result.
    """
    manifest = load_build(src, product, build_id, os)
    written: dict[str, str] = {}
    for depot_entry in select_depots(manifest, lang):
        depot_product = str(depot_entry.get("productId") or manifest["baseProductId"])
        depot = load_depot(src, str(depot_entry["manifest"]))
        container = None
        if use_sfc and depot.get("smallFilesContainer"):
            container = _load_sfc(src, depot_product, depot["smallFilesContainer"])
        for item in depot["items"]:
            try:
                _write_item(src, depot_product, item, Path(dest), container, use_sfc, written)
            except (KeyError, TypeError, AttributeError) as exc:
                raise ReaderError(
                    f"depot {depot_entry['manifest']}: malformed item {item!r:.200}: {exc!r}"
                ) from exc
    return written


def _load_sfc(src: Source, product: str, sfc: Mapping[str, Any]) -> bytes:
    data = b"".join(fetch_chunk(src, product, c, patch=False) for c in sfc.get("chunks") or [])
    if sfc.get("md5") and md5_hex(data) != sfc["md5"]:
        raise ReaderError(f"smallFilesContainer: md5 expected {sfc['md5']}, got {md5_hex(data)}")
    return data


def _write_item(
    src: Source,
    product: str,
    item: Mapping[str, Any],
    dest: Path,
    container: bytes | None,
    use_sfc: bool,
    written: dict[str, str],
) -> None:
    kind = item.get("type")
    rel = normalize_path(str(item.get("path", "")))
    if kind == "DepotDirectory":
        (dest / rel).mkdir(parents=True, exist_ok=True)
        return
    if kind == "DepotLink":
        link = dest / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(dest.resolve() / normalize_path(str(item["target"])))  # as gogdl
        return
    if kind != "DepotFile":
        raise ReaderError(f"{rel}: unknown depot item type {kind!r}")
    flags = item.get("flags") or []
    if "support" in flags:
        rel = f"gog-support/{product}/{rel}"
    target = dest / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if use_sfc and "sfcRef" in item:
        if container is None:
            raise ReaderError(f"{rel}: sfcRef but the depot has no smallFilesContainer")
        ref = item["sfcRef"]
        piece = container[ref["offset"] : ref["offset"] + ref["size"]]
        if len(piece) != ref["size"]:
            raise ReaderError(f"{rel}: sfcRef {ref} lies outside the container")
        target.write_bytes(piece)
        md5, sha256 = md5_hex(piece), hashlib.sha256(piece).hexdigest()
    else:
        md5, sha256 = _write_chunks(src, product, item.get("chunks") or [], target)
    _check_file(rel, item, md5, sha256)
    if "executable" in flags:
        target.chmod(target.stat().st_mode | 0o111)
    written[rel] = md5


def _write_chunks(
    src: Source, product: str, chunks: Sequence[Mapping[str, Any]], target: Path
) -> tuple[str, str]:
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    with target.open("wb") as out:
        for chunk in chunks:
            data = fetch_chunk(src, product, chunk, patch=False)
            out.write(data)
            md5.update(data)
            sha256.update(data)
    return md5.hexdigest(), sha256.hexdigest()


def _check_file(rel: str, item: Mapping[str, Any], md5: str, sha256: str) -> None:
    expected = file_md5(item)
    if expected is not None and md5 != expected:
        raise ReaderError(f"{rel}: file md5 expected {expected}, got {md5}")
    if item.get("sha256") and sha256 != item["sha256"]:
        raise ReaderError(f"{rel}: file sha256 expected {item['sha256']}, got {sha256}")


# --------------------------------------------------------------------------------------
# Patches


def xdelta3_decodes(source_file: Path, delta: Path) -> bytes:
    """Decode ``delta`` against ``source_file`` with the xdelta3 CLI; return the result."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        _run_xdelta3(source_file, delta, out)
        return out.read_bytes()


def _run_xdelta3(source_file: Path, delta: Path, out: Path) -> None:
    command = [XDELTA3, "-d", "-f", "-s", str(source_file), str(delta), str(out)]
    try:
        result = subprocess.run(command, capture_output=True, check=False)
    except OSError as exc:
        raise ReaderError(f"cannot run {XDELTA3}: {exc}") from exc
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise ReaderError(f"xdelta3 failed on {delta.name} (exit {result.returncode}): {message}")


def check_vcdiff_header(delta: bytes, what: str) -> None:
    """VCDIFF magic ``D6 C3 C4`` and no secondary compressor or custom code table (ref §5.5)."""
    if delta[:3] != b"\xd6\xc3\xc4" or len(delta) < 5:
        raise ReaderError(f"{what}: not a VCDIFF delta (magic {delta[:4].hex()})")
    if delta[4] & 0x03:
        raise ReaderError(f"{what}: uses a secondary compressor or code table ({delta[4]:#x})")


def apply_patch(
    src: Source,
    product: str,
    from_build: str,
    to_build: str,
    os: str,
    install_dir: Path,
    lang: str = "en-US",
) -> list[str]:
    """Apply the published xdelta3 patch ``from_build`` → ``to_build`` to ``install_dir``.

    Returns the patched target paths (relative posix), or ``[]`` when there is no patch.
    Sources are found by content (``md5_source``), as gogdl does. All deltas are decoded
    and verified against ``md5_target`` before any file is replaced. Files without a
    DepotDiff (the client's chunk update) are not touched.
    """
    install_dir = Path(install_dir)
    index = src.patch_index(product, from_build, to_build)
    if index is None:
        return []
    for key, want in (("from_build_id", from_build), ("to_build_id", to_build)):
        if key in index and str(index[key]) != want:
            raise ReaderError(f"patch index: {key} expected {want}, got {index[key]}")
    if "link" not in index:
        raise ReaderError(f"patch index {from_build}->{to_build} has no link")
    listed = {str(i.get("build_id")) for i in list_builds(src, product, os)}
    for build in (from_build, to_build):
        if build not in listed:
            raise ReaderError(f"patch names build {build}, not a listed gen-2 build of {os}")
    root = _as_object(read_zlib_json(src.get(str(index["link"]))), "patch root manifest")
    if not root:
        return []  # the "empty patch" form (ref §5.1)
    _check_patch_root(root, product, from_build, to_build)
    items = []
    for depot in root.get("depots") or []:
        if _language_matches(depot, lang):
            for item in load_depot(src, str(depot["manifest"]), patch=True)["items"]:
                if item.get("type") != "DepotDiff":
                    raise ReaderError(f"patch depot {depot['manifest']}: item {item.get('type')!r}")
                items.append(item)
    stage = Path(tempfile.mkdtemp(prefix=".gogreader-patch-", dir=install_dir))
    try:
        sources = _InstalledFiles(install_dir, skip=stage)
        decoded = [
            _decode_item(src, product, item, sources, stage, n) for n, item in enumerate(items)
        ]
        for rel, out in decoded:
            target = install_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            out.replace(target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return [rel for rel, _ in decoded]


def _check_patch_root(
    root: Mapping[str, Any], product: str, from_build: str, to_build: str
) -> None:
    if root.get("algorithm") != "xdelta3":
        raise ReaderError(f"patch root manifest: algorithm {root.get('algorithm')!r}")
    if "baseProductId" in root and str(root["baseProductId"]) != product:
        raise ReaderError(
            f"patch root manifest: baseProductId {root['baseProductId']}, not {product}"
        )
    for key, want in (("buildId_source", from_build), ("buildId_target", to_build)):
        if key in root and str(root[key]) != want:
            raise ReaderError(f"patch root manifest: {key} expected {want}, got {root[key]}")


class _InstalledFiles:
    """Installed files found by MD5, as gogdl matches patch sources (ref §5.5).

    ``path_source`` is tried first only as a shortcut; the content decides. Files are
    hashed lazily and at most once; nothing is replaced before all deltas are decoded.
    """

    def __init__(self, root: Path, skip: Path) -> None:
        self.root, self.skip = root, skip
        self._md5: dict[Path, str] = {}

    def _hash(self, path: Path) -> str:
        if path not in self._md5:
            self._md5[path] = _md5_file(path)
        return self._md5[path]

    def find(self, md5: str, path_hint: str) -> Path | None:
        """A regular file below the root whose MD5 is ``md5``, or None."""
        hint = self.root / path_hint
        if hint.is_file() and not hint.is_symlink() and self._hash(hint) == md5:
            return hint
        for path in sorted(self.root.rglob("*")):
            if self.skip in path.parents or not path.is_file() or path.is_symlink():
                continue
            if self._hash(path) == md5:
                return path
        return None


def _md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _decode_item(
    src: Source,
    product: str,
    item: Mapping[str, Any],
    sources: _InstalledFiles,
    stage: Path,
    n: int,
) -> tuple[str, Path]:
    """Reassemble one DepotDiff's delta, decode it into ``stage``, verify ``md5_target``."""
    try:
        target = normalize_path(str(item["path_target"]))
        what = f"DepotDiff {item['path_source']!r} -> {target!r}"
        md5_source, md5_target = str(item["md5_source"]), str(item["md5_target"])
    except KeyError as exc:
        raise ReaderError(f"DepotDiff {item!r:.200} lacks {exc}") from exc
    source = sources.find(md5_source, normalize_path(str(item["path_source"])))
    if source is None:
        raise ReaderError(f"{what}: no installed file has md5_source {md5_source}")
    delta = stage / f"{n}.delta"
    with delta.open("wb") as f:
        for chunk in item.get("chunks") or []:
            f.write(fetch_chunk(src, product, chunk, patch=True))
    with delta.open("rb") as f:
        check_vcdiff_header(f.read(5), what)
    out = stage / f"{n}.out"
    _run_xdelta3(source, delta, out)
    delta.unlink()
    got = _md5_file(out)
    if got != md5_target:
        raise ReaderError(f"{what}: md5_target expected {md5_target}, got {got}")
    shutil.copymode(source, out)
    return target, out
