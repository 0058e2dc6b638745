"""Pages as a phone shows them: EPUB chapters and Anki card backs laid out in headless Chromium.

The EPUB's content documents are opened straight from the unpacked package. Anki card backs are
the real thing: the deck is imported with the real engine, each card's answer HTML
(`card.answer()`) is placed in a page the way Anki's reviewer places it, with the reviewer's own
CSS and the MathJax that Anki ships (both from the `aqt` wheel, downloaded, never installed, at
the version pinned in requirements-dev.txt) typesetting the formulas.

Run as a script it only fetches the Anki assets (the Makefile's `setup-test` does that), or, with
`--look OUT EPUB|APKG…`, writes PNGs of the named pages for a person to look at.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PROBE = HERE / "probe.cjs"
PHONE = 390  # CSS px: the width of a current phone held upright


def chromium() -> str:
    for candidate in (os.environ.get("PUPPETEER_EXECUTABLE_PATH"), shutil.which("chromium"),
                      shutil.which("chromium-browser"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError("headless Chromium is missing: install Debian's chromium (`make setup-test`)")


def probe(jobs: list[dict], timeout: int = 1500) -> list[dict]:
    """Lay out every job's page in one browser session; one result per job, in order."""
    if not (ROOT / "node_modules" / "puppeteer-core").exists():
        raise RuntimeError("puppeteer-core is missing: run `make setup-test` (npm ci)")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"chromium": chromium(), "jobs": jobs}, f)
    try:
        proc = subprocess.run(["node", str(PROBE), f.name], capture_output=True, text=True, timeout=timeout,
                              cwd=ROOT)
    finally:
        os.unlink(f.name)
    if proc.returncode != 0:
        raise RuntimeError(f"the browser probe failed: {proc.stderr[-3000:]}")
    results = json.loads(proc.stdout)
    assert len(results) == len(jobs)
    return results


# ---- EPUB --------------------------------------------------------------------------------------

def unpack_epub(epub: Path, into: Path) -> dict[str, Path]:
    """Unpack the package; return its content documents in spine order, by file name."""
    with zipfile.ZipFile(epub) as z:
        z.extractall(into)
    opf = (into / "OEBPS" / "content.opf").read_text(encoding="utf-8")
    items = dict(re.findall(r'<item id="([^"]+)" href="([^"]+)"', opf))
    spine = re.findall(r'<itemref idref="([^"]+)"', opf)
    return {items[i]: into / "OEBPS" / items[i] for i in spine}


# ---- Anki --------------------------------------------------------------------------------------

def aqt_pin() -> str:
    """The aqt version pinned (as a download) in requirements-dev.txt."""
    text = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    match = re.search(r"^#\s*download:\s*aqt==([\w.]+)", text, re.M)
    if not match:
        raise RuntimeError("requirements-dev.txt does not pin `# download: aqt==…`")
    return match.group(1)


def cache_dir() -> Path:
    return Path(os.environ.get("STUDYBOOK_CACHE") or Path.home() / ".cache" / "studybook")


def anki_assets() -> Path:
    """Anki's reviewer CSS and MathJax, unpacked from the pinned aqt wheel into the cache."""
    version = aqt_pin()
    target = cache_dir() / f"aqt-{version}"
    if (target / ".complete").exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-m", "pip", "download", f"aqt=={version}", "--no-deps",
                               "--only-binary", ":all:", "-d", tmp], capture_output=True, text=True,
                              timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"cannot download aqt=={version}: {proc.stderr[-2000:]}")
        (wheel,) = Path(tmp).glob("aqt-*.whl")
        shutil.rmtree(target, ignore_errors=True)
        with zipfile.ZipFile(wheel) as z:
            for name in z.namelist():
                if name.startswith(("_aqt/data/web/js/vendor/mathjax/", "_aqt/data/web/css/reviewer.css",
                                    "_aqt/data/web/css/webview.css", "_aqt/data/web/js/mathjax.js")):
                    z.extract(name, target)
    (target / ".complete").write_text(version)
    return target


def _reviewer_page(answer: str, assets: Path) -> str:
    """A card's answer placed as Anki's reviewer places it (aqt/reviewer.py: `<div id="qa">`,
    body classes from aqt/theme.py), with Anki's MathJax configuration and MathJax."""
    web = assets / "_aqt" / "data" / "web"
    config = (web / "js" / "mathjax.js").read_text(encoding="utf-8")
    config = config.replace('"/_anki/js/vendor/mathjax"', json.dumps((web / "js" / "vendor" / "mathjax").as_uri()))
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{(web / 'css' / 'webview.css').as_uri()}">
<link rel="stylesheet" href="{(web / 'css' / 'reviewer.css').as_uri()}">
<script>{config}</script>
<script src="{(web / 'js' / 'vendor' / 'mathjax' / 'tex-chtml-full.js').as_uri()}"></script>
</head><body class="card card1 isLin"><div id="qa" dir="auto">{answer}</div>
<script>
MathJax.startup.promise.then(() => MathJax.typesetPromise([document.getElementById("qa")]))
  .then(() => {{ window.__typeset = document.querySelector("mjx-merror") ? "error" : true; }},
        () => {{ window.__typeset = "error"; }});
</script></body></html>
"""


def anki_pages(apkg: Path, into: Path, assets: Path) -> dict[str, Path]:
    """Import the deck into a new collection; write each card's back as a reviewer page, by ID."""
    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    into.mkdir(parents=True, exist_ok=True)
    col = Collection(str(into / "collection.anki2"))
    try:
        col.import_anki_package(ImportAnkiPackageRequest(package_path=str(apkg),
                                                         options=ImportAnkiPackageOptions()))
        media = Path(col.media.dir())
        pages: dict[str, Path] = {}
        for cid in col.find_cards(""):
            card = col.get_card(cid)
            page = media / f"back-{int(card.note()['Number']):02d}-{card.note()['ID']}.html"
            page.write_text(_reviewer_page(card.answer(), assets), encoding="utf-8")
            pages[card.note()["ID"]] = page
    finally:
        col.close()
    return pages


def job(page: Path, *, dark: bool = False, anki: bool = False, screenshot: Path | None = None,
        width: int = PHONE, open_details: bool = True, clip: str | None = None) -> dict:
    night = dark and anki
    return {"id": page.name, "url": page.as_uri(), "width": width, "dark": dark, "mathjax": anki,
            "bodyClass": "nightMode night_mode" if night else "", "htmlClass": "night-mode" if night else "",
            "openDetails": open_details, "screenshot": str(screenshot) if screenshot else None, "clip": clip}


def _look(out: Path, files: list[Path]) -> None:
    """PNGs of the pages the issue names, light and dark, for a person to look at."""
    out.mkdir(parents=True, exist_ok=True)
    jobs = []
    work = Path(tempfile.mkdtemp(prefix="look-"))
    for f in files:
        tag = "zh" if f.stem.endswith("zh-CN") else "en"
        if f.suffix == ".epub":
            pages = unpack_epub(f, work / f"epub-{tag}")
            for q in ("2", "9", "11", "21", "40"):
                page, anchor = next((p, m.group(1)) for p in pages.values() if (m := re.search(
                    rf'<span class="question-number" id="(q-[^"]+)-number">\D*{q}\D*</span>',
                    p.read_text(encoding="utf-8"))))
                for dark in (False, True):
                    jobs.append(job(page, dark=dark, clip=f"#{anchor}",
                                    screenshot=out / f"epub-{tag}-Q{q}-{'dark' if dark else 'light'}.png"))
        else:
            pages = anki_pages(f, work / f"anki-{tag}", anki_assets())
            for number in ("2", "11", "50"):
                page = next(p for p in pages.values() if p.name.startswith(f"back-{int(number):02d}-"))
                for dark in (False, True):
                    for opened in (False, True):
                        name = f"anki-{tag}-Q{number}-{'night' if dark else 'light'}{'-open' if opened else ''}.png"
                        jobs.append(job(page, dark=dark, anki=True, open_details=opened, screenshot=out / name))
    for result in probe(jobs):
        print(result["id"], "wide:", len(result["wide"]), "roots:", len(result["roots"]))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--look":
        _look(Path(sys.argv[2]), [Path(a) for a in sys.argv[3:]])
    else:
        print(anki_assets())
