"""The reports people read (issue 14): an intervention's half-year or annual report, an
association's board pack and the county comparison, as PDF (Typst), DOCX (python-docx) and
HTML (Jinja2), all three rendered from one plain data structure.

- `figures`  reads the published snapshot (never the warehouse or raw data) and returns the
             figures of one report as plain data; the only place that reads numbers.
- `document` lays the figures out as Swedish blocks (headings, key figures, tables, charts).
- `charts`   matplotlib (Agg) charts: SVG for PDF and HTML, PNG for DOCX.
- `render`   the three formats from the same blocks.
- `batch`    every report of a period, regenerated only when its figures changed.
"""
