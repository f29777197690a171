"""The three formats, from the same blocks: PDF (Typst, templates/reports/report.typ), DOCX
(python-docx, with empty sections for the owner to write) and HTML (Jinja2,
templates/reports/report.html.j2: one self-contained file, inline CSS, charts as inline SVG)."""

from __future__ import annotations

import functools
import io
import json
import re
from pathlib import Path

from ingestion.core.config import REPO_ROOT
from ingestion.reports.charts import font_dir, png_images
from ingestion.reports.document import blocks_for, document_title, header_text

TEMPLATES = REPO_ROOT / "templates" / "reports"
FORMATS = ("pdf", "docx", "html")
FOOTER = "Finsam-uppföljningen · siffrorna ur de publicerade martsen"


def _doc(figures: dict, blocks: list[dict]) -> dict:
    title = document_title(figures)
    return {
        "title": title,
        "short_title": title if len(title) < 70 else title[:67] + "…",
        "internal": figures["internal"],
        "header": header_text(figures),
        "footer": f"{FOOTER} · publicerade {figures['published_at']}",
        "blocks": blocks,
    }


@functools.lru_cache(maxsize=1)
def _typst_compiler():
    """One Typst compiler per process: the system fonts are searched once, not for every report."""
    import typst

    return typst.Compiler(str(TEMPLATES / "report.typ"), font_paths=[font_dir()])


def render_pdf(figures: dict, blocks: list[dict] | None = None) -> bytes:
    blocks = blocks if blocks is not None else blocks_for(figures)
    doc = _doc(figures, blocks)
    return _typst_compiler().compile(sys_inputs={"doc": json.dumps(doc, ensure_ascii=False)})


_XML_HEADER = re.compile(r"^<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?", re.S)


@functools.lru_cache(maxsize=1)
def _html_template():
    """The HTML template, compiled once per process."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"]))
    return env.get_template("report.html.j2")


def render_html(figures: dict, blocks: list[dict] | None = None) -> str:
    blocks = blocks if blocks is not None else blocks_for(figures)
    inline = []
    for n, b in enumerate(blocks):
        if b["t"] == "chart":
            svg = _XML_HEADER.sub("", b["svg"])
            # ids inside each inline SVG made unique across the page (clip paths, glyphs)
            svg = re.sub(r'id="([^"]+)"', rf'id="c{n}-\1"', svg)
            svg = re.sub(r'(url\(#|xlink:href="#|href="#)([^)"]+)', rf"\1c{n}-\2", svg)
            svg = svg.replace("<svg ", f'<svg role="img" aria-label="{_attr(b["caption"])}" ', 1)
            b = {**b, "svg_inline": svg}
        inline.append(b)
    return _html_template().render(doc=_doc(figures, inline))


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def render_docx(figures: dict, blocks: list[dict] | None = None) -> bytes:
    from docx import Document
    from docx.enum.section import WD_ORIENT  # noqa: F401  (portrait, the default)
    from docx.enum.text import WD_BREAK
    from docx.shared import Cm, Pt, RGBColor

    blocks = blocks if blocks is not None else blocks_for(figures)
    doc = _doc(figures, blocks)
    # every chart as PNG in one Typst compile (Word takes no SVG without a PNG beside it)
    pngs = iter(png_images([b["svg"] for b in blocks if b["t"] == "chart"]))
    document = Document()
    styles = document.styles
    styles["Normal"].font.name = "Liberation Sans"
    styles["Normal"].font.size = Pt(10)
    for name, size in (("Heading 1", 15), ("Heading 2", 12), ("Title", 24)):
        styles[name].font.name = "Liberation Sans"
        styles[name].font.size = Pt(size)
        styles[name].font.color.rgb = RGBColor(0x1F, 0x5F, 0x8B)
    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.left_margin = section.right_margin = Cm(1.8)
    header = section.header.paragraphs[0]
    run = header.add_run(doc["header"])
    run.font.size = Pt(8)
    run.bold = figures["internal"]
    if figures["internal"]:
        run.font.color.rgb = RGBColor(0xA4, 0x26, 0x2C)
    header.add_run("\t\t" + doc["short_title"]).font.size = Pt(8)
    footer = section.footer.paragraphs[0]
    footer.add_run(doc["footer"]).font.size = Pt(7.5)

    usable = section.page_width - section.left_margin - section.right_margin
    table_style = styles["Light Grid Accent 1"].style_id
    style_ids = {name: styles[name].style_id for name in ("Title", "Heading 1", "Heading 2")}

    def styled(text: str, style: str):
        """A paragraph in a named style, set by the style's id: python-docx's own lookup by name
        searched every style for each heading (a third of the DOCX's time)."""
        para = document.add_paragraph(text)
        para._p.get_or_add_pPr().style = style_ids[style]
        return para

    for b in blocks:
        kind = b["t"]
        if kind == "title":
            document.add_paragraph(b["kicker"]).runs[0].bold = True
            styled(b["title"], "Title")
            sub = document.add_paragraph(b["subtitle"])
            sub.runs[0].font.size = Pt(13)
            table = document.add_table(rows=0, cols=2)
            for key, value in b["lines"]:
                cells = table.add_row().cells
                cells[0].text, cells[1].text = key, value
                cells[0].width, cells[1].width = Cm(5.5), usable - Cm(5.5)
        elif kind == "h1":
            styled(b["text"], "Heading 1")
        elif kind == "h2":
            styled(b["text"], "Heading 2")
        elif kind == "p":
            document.add_paragraph(b["text"])
        elif kind == "note":
            para = document.add_paragraph()
            note = para.add_run(b["text"])
            note.italic, note.font.size = True, Pt(8)
        elif kind == "table":
            if b.get("caption"):
                cap = document.add_paragraph()
                cap_run = cap.add_run(b["caption"])
                cap_run.bold, cap_run.font.size = True, Pt(9)
            document.element.body._insert_tbl(_docx_table(b, usable, table_style))
            document.add_paragraph()
        elif kind == "chart":
            document.add_picture(io.BytesIO(next(pngs)), width=Cm(15))
            cap = document.add_paragraph()
            cap_run = cap.add_run(b["caption"])
            cap_run.italic, cap_run.font.size = True, Pt(8)
        elif kind == "owner":
            styled(b["text"], "Heading 1")
            document.add_paragraph("")
        elif kind == "pagebreak":
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    document.core_properties.title = doc["title"]
    document.core_properties.author = "Finsam-uppföljningen"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _docx_table(b: dict, usable: int, style_id: str):
    """A table block as one WordprocessingML table, built as text and parsed once: what
    python-docx's add_table, cell.width, alignment and runs write, without its per-cell element
    look-ups (the DOCX took as long as all the charts)."""
    from xml.sax.saxutils import escape

    from docx.oxml import parse_xml

    total = sum(b["widths"])
    widths = [int(usable * w / total) // 635 for w in b["widths"]]  # EMU to twips
    size = 15 if b.get("small") else 17  # half-points: 7.5 and 8.5 pt
    last = len(b["rows"])
    rows = []
    for i, row in enumerate([b["columns"], *b["rows"]]):
        bold = "<w:b/>" if i == 0 or (bool(b.get("total_last")) and i == last) else ""
        cells = "".join(
            f'<w:tc><w:tcPr><w:tcW w:type="dxa" w:w="{widths[n]}"/></w:tcPr><w:p><w:pPr><w:jc w:val="'
            f'{"right" if b["align"][n] == "r" else "left"}"/></w:pPr><w:r><w:rPr>{bold}<w:sz w:val="{size}"/>'
            f'</w:rPr><w:t xml:space="preserve">{escape(str(text))}</w:t></w:r></w:p></w:tc>'
            for n, text in enumerate(row)
        )
        rows.append(f"<w:tr>{cells}</w:tr>")
    grid = "".join(f'<w:gridCol w:w="{w}"/>' for w in widths)
    return parse_xml(
        f'<w:tbl xmlns:w="{_W}"><w:tblPr><w:tblStyle w:val="{escape(style_id)}"/><w:tblW w:type="auto" w:w="0"/>'
        '<w:jc w:val="center"/><w:tblLook w:firstColumn="1" w:firstRow="1" w:lastColumn="0" w:lastRow="0" '
        'w:noHBand="0" w:noVBand="1" w:val="04A0"/></w:tblPr>'
        f"<w:tblGrid>{grid}</w:tblGrid>{''.join(rows)}</w:tbl>"
    )


def render(figures: dict, formats: tuple[str, ...] = FORMATS) -> dict[str, bytes]:
    """The report in each asked format, as bytes; the charts are drawn once, as SVG (the DOCX's PNGs
    are rasterised from them)."""
    blocks = blocks_for(figures)
    out: dict[str, bytes] = {}
    if "pdf" in formats:
        out["pdf"] = render_pdf(figures, blocks)
    if "docx" in formats:
        out["docx"] = render_docx(figures, blocks)
    if "html" in formats:
        out["html"] = render_html(figures, blocks).encode("utf-8")
    return out


def write(figures: dict, target_stem: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write `<target_stem>.<format>` for each format (each via a temporary name and a rename)."""
    import os

    target_stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt, data in render(figures, formats).items():
        path = target_stem.with_name(f"{target_stem.name}.{fmt}")
        part = path.with_name(f".{path.name}.new")
        part.write_bytes(data)
        os.replace(part, path)
        paths.append(path)
    return paths
