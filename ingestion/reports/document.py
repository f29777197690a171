"""A report's layout: its figures (figures.py) as a list of Swedish blocks that every format
renders the same way. One function per report kind; no number is read or computed here, only
placed (every text comes from a figure's cell).

Blocks: title, h1, h2, p, note, table (columns, rows, align, caption), chart (svg, caption: the DOCX
takes it as PNG), owner (an empty section for the owner to write; DOCX only), pagebreak.
"""

from __future__ import annotations

from ingestion.reports import charts
from ingestion.reports.figures import INTERNAL_BANNER, fmt_int

NINE_COLUMNS = [
    ("participants", "Antal inskrivna"),
    ("exits", "Antal avslut totalt"),
    ("early_dropouts", "Varav tidiga avhopp"),
    ("exits_to_work", "Antal i arbete"),
    ("exits_to_studies", "Antal i studier"),
    ("exits_to_rehab", "Till annan arbetslivs­inriktad rehab"),
    ("exits_to_sje_ake", "Till sjuk- eller aktivitets­ersättning"),
    ("exits_to_other", "Till annat"),
    ("active_at_period_end", "Aktiva vid periodslut"),
]
DIMENSION_TITLES = {
    "education": "Utbildning",
    "time_on_public_support": "Tid med offentlig försörjning före start",
    "support_before": "Försörjning vid start",
    "referrer": "Remittent",
}


def _t(c) -> str:
    return c["t"] if isinstance(c, dict) else str(c)


def _chart(chart: dict, caption: str) -> dict:
    return {"t": "chart", "svg": chart["svg"], "caption": caption}


def header_text(figures: dict) -> str:
    n = figures["threshold"]
    return INTERNAL_BANNER if figures["internal"] else f"För publicering – antal under {n} visas som <{n}"


def _x_av_y(cells: dict) -> str:
    """The Avesta sentence, from the marts' own counts and share: "7 av 14 = 50 %"."""
    numerator = cells["exits_to_work_studies_rehab"]
    denominator = cells["exits_excl_dropouts"]
    share = cells["share_of_exits_excl_dropouts_to_work_studies_rehab"]
    if share["v"] is None:
        return (
            f"Av {denominator['t']} avslutade (förutom tidiga avhopp) gick {numerator['t']} till arbete, studier "
            "eller annan arbetslivsinriktad rehabilitering; andelen visas inte."
        )
    return (
        f"Avslutade (förutom tidiga avhopp): {denominator['t']} personer. "
        f"{numerator['t']} av {denominator['t']} = {share['t']} till arbete, studier eller annan "
        "arbetslivsinriktad rehabilitering."
    )


def intervention_blocks(f: dict) -> list[dict]:
    ins, assoc, period = f["intervention"], f["association"], f["period"]
    in_period = f["outcomes"].get("in_period")
    to_date = f["outcomes"].get("to_date")
    kind = {"half_year": "Halvårsrapport", "tertial": "Tertialrapport", "month": "Månadsrapport"}.get(
        period["type"], "Helårsrapport" if period["type"] in ("year", "operating_year") else "Rapport"
    )
    blocks: list[dict] = [
        {
            "t": "title",
            "kicker": kind,
            "title": ins["name"],
            "subtitle": assoc["name"],
            "lines": [
                ["Period", period["title"]],
                ["Huvudmän", ", ".join(ins["parties"]) or "–"],
                ["Målgrupp", ins["target_group"] or "–"],
                ["Insatsen pågår", f"{ins['start']} – {ins['end']}"],
                ["Platser / planerat antal", f"{fmt_int(ins['places'])} / {fmt_int(ins['planned'])}"],
                ["Data t.o.m.", f["data_through"]],
                ["Underlagets fullständighet", f["completeness"]["text"]],
                ["Underlaget publicerat", f["published_at"]],
                ["Urval", header_text(f)],
            ],
        },
        {"t": "pagebreak"},
        {"t": "h1", "text": "Sammanfattning"},
    ]
    if in_period is None:
        blocks.append({"t": "p", "text": "Inga deltagaruppgifter finns för perioden."})
        blocks += _targets_blocks(f["targets"])
        blocks += _follow_up_blocks(f.get("follow_up"))
        blocks += _economy_blocks(f)
        blocks.append({"t": "owner", "text": "Reflektion"})
        blocks.append({"t": "owner", "text": "Utvecklingsområden"})
        return blocks + _appendix_blocks(f)
    prev = f["previous"]
    prev_label = f["previous_period"]["label"] if f["previous_period"] else "föregående period"

    def kf(label, column):
        return [label, in_period[column]["t"], prev[column]["t"] if prev else "–"]

    blocks.append(
        {
            "t": "table",
            "columns": ["Nyckeltal", period["label"], prev_label],
            "align": ["l", "r", "r"],
            "widths": [3, 1, 1],
            "rows": [
                kf("Deltagare under perioden", "participants"),
                kf("Nya under perioden", "entrants"),
                kf("Aktiva vid periodslut", "active_at_period_end"),
                kf("Avslut", "exits"),
                kf(
                    "Andel till arbete, studier eller rehab (exkl. tidiga avhopp)",
                    "share_of_exits_excl_dropouts_to_work_studies_rehab",
                ),
                kf("Andel till arbete eller studier (alla avslut)", "share_of_exits_to_work_or_studies"),
                kf("Genomsnittlig tid i insatsen (månader)", "avg_months_in_intervention"),
            ],
        }
    )
    blocks.append({"t": "p", "text": _x_av_y(in_period)})
    blocks += _targets_blocks(f["targets"])
    if f.get("public_note"):
        blocks.append({"t": "note", "text": f["public_note"]})

    # Participants
    blocks.append({"t": "h1", "text": "Deltagare"})
    blocks.append(
        {
            "t": "p",
            "text": (
                f"Under perioden deltog {in_period['participants']['t']} personer: {in_period['carried_in']['t']} "
                f"inskrivna sedan tidigare och {in_period['entrants']['t']} nya. Vid periodens slut var "
                f"{in_period['active_at_period_end']['t']} aktiva."
            ),
        }
    )
    profile = f["profile"]
    if profile["sex"]:
        blocks.append(_profile_table("Kön", profile["sex"]))
    if profile["age_band"]:
        blocks.append(_profile_table("Ålder vid start", profile["age_band"]))
        blocks.append(
            _chart(
                charts.bars(
                    [{"label": r["label"].replace(" år", ""), "cell": r["participants"]} for r in profile["age_band"]],
                    "Deltagare per åldersgrupp (år)",
                ),
                "Deltagare under perioden efter ålder vid start.",
            )
        )
    blocks += _age_blocks(f.get("age"), f["internal"])
    for dimension, title in DIMENSION_TITLES.items():
        if profile[dimension]:
            blocks.append(_profile_table(title, profile[dimension]))

    # Results
    blocks.append({"t": "h1", "text": "Resultat"})
    result_rows = [["Under perioden", *[in_period[c]["t"] for c, _ in NINE_COLUMNS]]]
    if to_date:
        result_rows.append([f"Från start t.o.m. {period['end']}", *[to_date[c]["t"] for c, _ in NINE_COLUMNS]])
    blocks.append(
        {
            "t": "table",
            "caption": f"Deltagarresultat {period['start']} – {period['end']}",
            "columns": ["", *[label for _, label in NINE_COLUMNS]],
            "align": ["l", *["r"] * 9],
            "widths": [2.2, *[1] * 9],
            "small": True,
            "rows": result_rows,
        }
    )
    blocks.append(
        {
            "t": "note",
            "text": f"Till subventionerat arbete (ingår inte i kolumnerna ovan): {in_period['exits_to_subsidised_work']['t']} "
            "under perioden" + (f", {to_date['exits_to_subsidised_work']['t']} från start." if to_date else "."),
        }
    )
    blocks.append({"t": "p", "text": "Under perioden: " + _x_av_y(in_period)})
    if to_date:
        blocks.append({"t": "p", "text": "Från start: " + _x_av_y(to_date)})
    if f["exit_categories"]:
        blocks.append({"t": "h2", "text": "Avslut efter orsak"})
        blocks.append(
            _chart(
                charts.bars(
                    [{"label": e["label"], "cell": e["exits"]} for e in f["exit_categories"]],
                    "Avslut under perioden efter orsak",
                    horizontal=True,
                ),
                "Avslut under perioden efter avslutsorsak.",
            )
        )
    blocks += _time_blocks(f["time"], f["internal"])
    blocks += _transition_blocks(f["transitions"])
    if f["employment"]:
        blocks.append({"t": "h2", "text": "Sysselsättning efter avslut"})
        blocks.append(
            {
                "t": "table",
                "columns": ["Sysselsättning", "Avslut", "Andel", "Varav heltid", "Snittomfattning (%)"],
                "align": ["l", "r", "r", "r", "r"],
                "widths": [3, 1, 1, 1, 1.3],
                "rows": [
                    [e["label"], e["exits"]["t"], e["share"]["t"], e["full_time"]["t"], e["avg_extent"]["t"]]
                    for e in f["employment"]
                ],
            }
        )
        blocks.append(
            {
                "t": "note",
                "text": "Sysselsättningen vid avslutet enligt leveranserna; när den saknas härleds den ur "
                "avslutsorsaken. (Uppföljning en tid efter avslutet levereras som uppföljningsfiler.)",
            }
        )

    blocks += _follow_up_blocks(f.get("follow_up"))

    blocks += _economy_blocks(f)
    blocks.append({"t": "owner", "text": "Reflektion"})
    blocks.append({"t": "owner", "text": "Utvecklingsområden"})
    blocks += _appendix_blocks(f)
    return blocks


def _months_text(months: int) -> str:
    return f"{months} månad" if months == 1 else f"{months} månader"


def _follow_up_sentence(months: int, c: dict) -> str:
    """ "x av y uppföljda = z % i arbete eller studier", from the mart's own counts and share."""
    lead = f"{_months_text(months).capitalize()} efter avslut, avslutade {c['label']}"
    if c["followed_up"]["v"] == 0:
        return f"{lead}: ingen av de {c['exits']['t']} avslutade har följts upp."
    ws, fu = c["in_work_or_studies"]["t"], c["followed_up"]["t"]
    share = c["share_of_followed_up_in_work_or_studies"]
    if share["v"] is None:
        if c["in_work_or_studies"]["v"] is None or c["followed_up"]["v"] is None:
            return f"{lead}: andelen uppföljda i arbete eller studier visas inte (den bygger på små eller dolda antal)."
        return f"{lead}: {ws} av {fu} uppföljda i arbete eller studier; andelen visas inte."
    return (
        f"{lead}: {ws} av {fu} uppföljda = {share['t']} i arbete eller studier "
        f"({fu} av {c['exits']['t']} avslutade följdes upp)."
    )


def _follow_up_blocks(fu: dict | None) -> list[dict]:
    """Follow-up after exit (figures.py `_follow_up`): a table per time after exit for the period's
    exit cohorts, and the sentence per cohort; one line when the intervention delivers none."""
    blocks: list[dict] = [{"t": "h2", "text": "Uppföljning efter avslut"}]
    if not fu or not fu["delivered"]:
        blocks.append({"t": "p", "text": "Insatsen har inte levererat någon uppföljning efter avslut."})
        return blocks
    if not fu["offsets"]:
        blocks.append(
            {"t": "p", "text": "Uppföljningar finns, men ingen som avslutades under perioden har följts upp."}
        )
        return blocks
    sentences: list[str] = []  # after the tables: "x av y uppföljda = z %" per time after exit
    notes: list[str] = []
    for offset in fu["offsets"]:
        months = offset["months"]
        blocks.append(
            {
                "t": "table",
                "caption": f"Uppföljning {_months_text(months)} efter avslut, per avslutskohort",
                "columns": [
                    "Avslutade",
                    "Avslut",
                    "Uppföljda",
                    "I arbete",
                    "I studier",
                    "Arbete eller studier",
                    "Andel av uppföljda",
                    "Offentlig försörjning",
                ],
                "align": ["l", *["r"] * 7],
                "widths": [1.2, 1, 1.2, 1, 1, 1.3, 1.3, 1.7],
                "rows": [
                    [
                        c["label"],
                        c["exits"]["t"],
                        c["followed_up"]["t"],
                        c["in_work"]["t"],
                        c["in_studies"]["t"],
                        c["in_work_or_studies"]["t"],
                        c["share_of_followed_up_in_work_or_studies"]["t"],
                        c["on_public_support"]["t"],
                    ]
                    for c in offset["cohorts"]
                ],
            }
        )
        sentences += [_follow_up_sentence(months, c) for c in offset["cohorts"] if c["headline"]]
        apart = [
            (c, text)
            for c, text in (
                (offset["unmatched"], "som inte hör till någon levererad episod"),
                (offset["before_exit"], "som gjordes innan episoden avslutades"),
            )
            if c and c["v"]
        ]
        if apart:
            noun = "uppföljning" if apart[0][0]["v"] == 1 else "uppföljningar"
            parts = [
                f"{c['t']} {noun if i == 0 else ''} {text}".replace("  ", " ") for i, (c, text) in enumerate(apart)
            ]
            notes.append(f"Räknas inte ovan ({_months_text(months)}): {' och '.join(parts)}.")
    blocks += [{"t": "p", "text": text} for text in sentences]
    blocks += [{"t": "note", "text": text} for text in notes]
    if fu["shorter_period"]:
        blocks.append(
            {"t": "note", "text": "Perioden är kortare än ett halvår: kohorterna är de avslutshalvår den ligger i."}
        )
    blocks.append(
        {
            "t": "note",
            "text": "Avslutade: kohorten efter avslutsår eller avslutshalvår. Begreppen (uppföljda, arbete, "
            "offentlig försörjning) definieras i bilagan.",
        }
    )
    return blocks


def _profile_table(title: str, rows: list[dict]) -> dict:
    return {
        "t": "table",
        "columns": [title, "Deltagare", "Andel", "Nya", "Avslut", "Aktiva vid periodslut"],
        "align": ["l", "r", "r", "r", "r", "r"],
        "widths": [3, 1, 1, 1, 1, 1.4],
        "rows": [
            [r["label"], r["participants"]["t"], r["share"]["t"], r["entrants"]["t"], r["exits"]["t"], r["active"]["t"]]
            for r in rows
        ],
    }


def _targets_blocks(targets: dict) -> list[dict]:
    blocks: list[dict] = [{"t": "h2", "text": "Mål"}]
    if targets["rows"]:
        blocks.append(
            {
                "t": "table",
                "columns": ["Mål", "Målvärde", "Utfall", "Uppfyllt", "Kommentar"],
                "align": ["l", "r", "r", "l", "l"],
                "widths": [3, 1, 1, 1, 2],
                "rows": [[r["label"], r["target"], r["actual"], r["met"], r["note"]] for r in targets["rows"]],
            }
        )
    if targets["note"]:
        blocks.append({"t": "p", "text": targets["note"]})
    return blocks


def _age_blocks(age: dict | None, internal: bool) -> list[dict]:
    """Mean age and range, and age x sex: internal reports only (figures.py: `_age`)."""
    if not internal:
        return [
            {
                "t": "note",
                "text": "Medelålder, yngsta och äldsta ålder samt ålder × kön redovisas bara i internt underlag "
                "(yngsta och äldsta ålder är en enskild persons ålder).",
            }
        ]
    if not age:
        return []
    plural = {"K": "kvinnorna", "M": "männen"}
    by_sex = [
        f"{plural.get(s['code'], s['label'].lower())} {s['avg']['t']} år"
        for s in age["by_sex"]
        if s["avg"]["v"] is not None
    ]
    blocks: list[dict] = [
        {
            "t": "p",
            "text": f"Medelåldern vid start var {age['avg']['t']} år (yngst {age['min']['t']} år, äldst "
            f"{age['max']['t']} år)" + (f"; {', '.join(by_sex)}." if by_sex else "."),
        }
    ]
    bands = age["by_band_sex"]
    if bands:
        blocks.append(
            {
                "t": "table",
                "caption": "Ålder vid start × kön (deltagare under perioden)",
                "columns": ["Ålder vid start", "Kvinnor", "Män", "Alla"],
                "align": ["l", "r", "r", "r"],
                "widths": [3, 1, 1, 1],
                "rows": [[b["label"], b["women"]["t"], b["men"]["t"], b["all"]["t"]] for b in bands],
            }
        )
        blocks.append(
            _chart(
                charts.grouped_bars(
                    [b["label"].replace(" år", "") for b in bands],
                    [
                        {"label": "Kvinnor", "cells": [b["women"] for b in bands]},
                        {"label": "Män", "cells": [b["men"] for b in bands]},
                    ],
                    "Deltagare per åldersgrupp och kön",
                ),
                "Deltagare under perioden efter ålder vid start och kön.",
            )
        )
    return blocks


def _stay_blocks(time: dict, internal: bool) -> list[dict]:
    """Stays by length (a histogram) and stays beyond the register's maximum: internal only."""
    if not internal:
        return [
            {
                "t": "note",
                "text": "Fördelningen efter tid i insatsen och antalet som stannat längre än insatsens maxtid "
                "redovisas bara i internt underlag.",
            }
        ]
    if not time.get("stays"):
        return []
    stays, beyond = time["stays"], time["beyond_max"]
    blocks: list[dict] = [
        {
            "t": "table",
            "caption": "Avslutade under perioden efter tid i insatsen (månader)",
            "columns": ["Månader", *[b["label"] for b in stays]],
            "align": ["l", *["r"] * len(stays)],
            "widths": [2, *[1] * len(stays)],
            "rows": [["Avslut", *[b["exits"]["t"] for b in stays]]],
        },
        _chart(
            charts.bars(
                [{"label": b["label"], "cell": b["exits"]} for b in stays], "Tid i insatsen för avslutade (månader)"
            ),
            "Avslutade under perioden efter tid i insatsen i månader (t.ex. 3–6: mer än 3 och högst 6 månader).",
        ),
    ]
    if beyond["target"] is None:
        text = "Registret anger ingen längsta tid i insatsen (max_manader) för insatsen."
    else:
        text = (
            f"Längre än insatsens maxtid ({beyond['target']} månader): {beyond['exits']['t']} av "
            f"{beyond['with_target']['t']} avslutade under perioden."
        )
    blocks.append({"t": "p", "text": text})
    return blocks


def _time_blocks(time: dict, internal: bool = False) -> list[dict]:
    if not time["all"]:
        return []
    overall = time["all"]
    blocks = [
        {"t": "h2", "text": "Tid i insatsen"},
        {
            "t": "p",
            "text": f"De {overall['exits']['t']} som avslutades under perioden var i insatsen i genomsnitt "
            f"{overall['avg']['t']} månader (median {overall['median']['t']} månader).",
        },
        {
            "t": "table",
            "columns": ["Grupp", "Avslut", "Medel (mån)", "Median (mån)"],
            "align": ["l", "r", "r", "r"],
            "widths": [3, 1, 1, 1],
            "rows": [
                [e["label"], e["exits"]["t"], e["avg"]["t"], e["median"]["t"]]
                for e in [*time["by_sex"], *time["by_age"]]
            ],
        },
    ]
    if time["by_age"]:
        blocks.append(
            _chart(
                charts.bars(
                    [{"label": e["label"].replace(" år", ""), "cell": e["avg"]} for e in time["by_age"]],
                    "Genomsnittlig tid i insatsen per åldersgrupp (månader)",
                ),
                "Genomsnittlig tid i insatsen (månader) för dem som avslutades under perioden.",
            )
        )
    blocks += _stay_blocks(time, internal)
    return blocks


def _transition_blocks(transitions: dict | None) -> list[dict]:
    if not transitions or not transitions["before"]:
        return []
    before = [_short(b["label"]) for b in transitions["before"]]
    after = [_short(a["label"]) for a in transitions["after"]]
    matrix = transitions["matrix"]
    codes = sorted({*[b["code"] for b in transitions["before"]], *[a["code"] for a in transitions["after"]]})
    labels = {
        **{b["code"]: b["label"] for b in transitions["before"]},
        **{a["code"]: a["label"] for a in transitions["after"]},
    }
    before_index = {b["code"]: n for n, b in enumerate(transitions["before"])}
    after_index = {a["code"]: n for n, a in enumerate(transitions["after"])}
    empty = {"v": 0, "t": "0"} if transitions["has_matrix"] else {"v": None, "t": "–"}
    at_start = [matrix[before_index[c]][-1] if c in before_index else empty for c in codes]
    at_exit = [matrix[-1][after_index[c]] if c in after_index else empty for c in codes]
    blocks: list[dict] = [{"t": "h2", "text": "Försörjning vid start och vid avslut"}]
    if transitions["has_matrix"]:
        blocks.append(
            {
                "t": "table",
                "caption": "Avslutade under perioden: försörjning vid start (rader) och vid avslut (kolumner)",
                "columns": ["Vid start \\ vid avslut", *after, "Alla"],
                "align": ["l", *["r"] * (len(after) + 1)],
                "widths": [2.2, *[1] * (len(after) + 1)],
                "small": True,
                "rows": [[label, *[c["t"] for c in row]] for label, row in zip([*before, "Alla"], matrix)],
            }
        )
    else:
        blocks.append(
            {
                "t": "table",
                "caption": "Avslutade under perioden: försörjning vid start och vid avslut",
                "columns": ["Försörjning", "Vid start", "Vid avslut"],
                "align": ["l", "r", "r"],
                "widths": [3, 1, 1],
                "rows": [[labels[c], s["t"], e["t"]] for c, s, e in zip(codes, at_start, at_exit)]
                + [["Alla", matrix[-1][-1]["t"], matrix[-1][-1]["t"]]],
                "total_last": True,
            }
        )
        blocks.append(
            {
                "t": "note",
                "text": "Hela matrisen (start × avslut) redovisas för år och verksamhetsår; för kortare perioder "
                "visas fördelningarna vid start och vid avslut.",
            }
        )
    blocks.append(
        _chart(
            charts.grouped_bars(
                [_short(labels[c]) for c in codes],
                [{"label": "Vid start", "cells": at_start}, {"label": "Vid avslut", "cells": at_exit}],
                "Försörjning vid start och vid avslut (avslutade under perioden)",
            ),
            "Försörjning vid start och vid avslut för dem som avslutades under perioden.",
        )
    )
    return blocks


def _short(label: str) -> str:
    """A code's label short enough for a column head: "sjukpenning/rehabiliteringspenning" -> "sjukpenning"."""
    return label.split("/")[0].split(" (")[0]


def _economy_blocks(f: dict) -> list[dict]:
    blocks: list[dict] = [{"t": "h1", "text": "Ekonomi"}]
    budget = f["budget"]
    if not budget:
        blocks.append({"t": "p", "text": "Ingen budgetleverans med utfall inom perioden."})
    elif not any(line["actual"]["v"] is not None for line in budget["lines"]):
        blocks += _planned_budget_blocks(budget)
    else:
        rows = [
            [
                l["label"],
                l["budget"]["t"],
                l["actual"]["t"],
                l["difference"]["t"],
                l["reported"]["t"],
                l["forecast"]["t"],
            ]
            for l in budget["lines"]
        ]
        if budget["total"]:
            t = budget["total"]
            rows.append(
                [
                    "Summa",
                    t["budget"]["t"],
                    t["actual"]["t"],
                    t["difference"]["t"],
                    t["reported"]["t"],
                    t["forecast"]["t"],
                ]
            )
        blocks.append(
            {
                "t": "table",
                "caption": f"Budgetutfall med utfall per {budget['actuals_through']} och helårsprognos {budget['year']} (kr)",
                "columns": [
                    "Kr",
                    "Budget",
                    "Utfall t.o.m. period",
                    "Differens (budget − utfall)",
                    "Rapporterad differens",
                    "Prognos",
                ],
                "align": ["l", "r", "r", "r", "r", "r"],
                "widths": [2.2, 1.2, 1.4, 1.4, 1.4, 1],
                "total_last": bool(budget["total"]),
                "rows": rows,
            }
        )
        blocks.append({"t": "note", "text": "Prognos: helårsprognosens avvikelse mot budget (+ = under budget)."})
        for text in budget["mismatches"]:
            blocks.append({"t": "p", "text": "Räknefel i leveransen: " + text})
        if budget["total"]:
            t = budget["total"]
            if t["differs_from_granted"]:
                blocks.append(
                    {
                        "t": "p",
                        "text": f"Budgeten i leveransen ({t['budget']['t']} kr) stämmer inte med vad styrelsen beviljat "
                        f"({t['granted']['t']} kr): skillnad {t['budget_minus_granted']['t']} kr.",
                    }
                )
            elif t["granted"]["v"] is not None:
                blocks.append({"t": "p", "text": f"Beviljat av styrelsen: {t['granted']['t']} kr, samma som budgeten."})
    cost = f["cost"]
    if cost:
        rows = []
        for window, label in (("in_period", "Under perioden"), ("to_date", "Från start")):
            c = cost.get(window)
            if c:
                rows.append(
                    [
                        label,
                        c["actual_cost"]["t"],
                        c["participants"]["t"],
                        c["per_participant"]["t"],
                        c["exits_to_work_or_studies"]["t"],
                        c["per_exit"]["t"],
                    ]
                )
        blocks.append(
            {
                "t": "table",
                "caption": "Kostnad per deltagare och per avslut till arbete eller studier (kr)",
                "columns": [
                    "",
                    "Kostnad",
                    "Deltagare",
                    "Per deltagare",
                    "Avslut till arbete/studier",
                    "Per sådant avslut",
                ],
                "align": ["l", "r", "r", "r", "r", "r"],
                "widths": [1.6, 1.2, 1, 1.2, 1.4, 1.3],
                "rows": rows,
            }
        )
        reasons = sorted({r for c in cost.values() for r in c["reasons"]})
        for reason in reasons:
            blocks.append({"t": "note", "text": f"Kostnadsmått saknas där {reason}."})
    return blocks


def _planned_budget_blocks(budget: dict) -> list[dict]:
    """A budget delivery without actuals (a planned budget, as KRUS's): the owner's lines with their
    cost type and the budget; no difference against actuals that were never delivered."""
    forecast = any(line["forecast"]["v"] is not None for line in budget["lines"])
    rows = [
        [line["label"], line["kind"], line["budget"]["t"], *([line["forecast"]["t"]] if forecast else [])]
        for line in budget["lines"]
    ]
    total = budget["total"]
    if total:
        rows.append(["Summa kostnader", "", total["budget"]["t"], *([total["forecast"]["t"]] if forecast else [])])
    blocks: list[dict] = [
        {
            "t": "table",
            "caption": f"Budget {budget['year']} (kr), leveransen per {budget['actuals_through']}",
            "columns": ["Kr", "Kostnadsslag", "Budget", *(["Prognos"] if forecast else [])],
            "align": ["l", "l", "r", *(["r"] if forecast else [])],
            "widths": [3, 1.6, 1.2, *([1] if forecast else [])],
            "total_last": bool(total),
            "rows": rows,
        },
        {"t": "note", "text": "Leveransen har inget utfall än: differens mot budget redovisas när utfall levereras."},
    ]
    if total and total["differs_from_granted"]:
        blocks.append(
            {
                "t": "p",
                "text": f"Budgeten i leveransen ({total['budget']['t']} kr) stämmer inte med vad styrelsen beviljat "
                f"({total['granted']['t']} kr): skillnad {total['budget_minus_granted']['t']} kr.",
            }
        )
    elif total and total["granted"]["v"] is not None:
        blocks.append({"t": "p", "text": f"Beviljat av styrelsen: {total['granted']['t']} kr, samma som budgeten."})
    return blocks


def _appendix_blocks(f: dict) -> list[dict]:
    blocks: list[dict] = [{"t": "pagebreak"}, {"t": "h1", "text": "Bilaga: definitioner och underlag"}]
    blocks.append({"t": "h2", "text": "Definitioner"})
    blocks.append(
        {
            "t": "table",
            "columns": ["Begrepp", "Definition"],
            "align": ["l", "l"],
            "widths": [1.3, 4],
            "small": True,
            "rows": [[d["term"], d["text"]] for d in f["definitions"]],
        }
    )
    if f.get("deliveries") is not None:
        blocks.append({"t": "h2", "text": "Leveranser bakom rapporten"})
        if f["deliveries"]:
            blocks.append(
                {
                    "t": "table",
                    "columns": ["Fil", "Slag", "Period", "Status"],
                    "align": ["l", "l", "l", "l"],
                    "widths": [3, 1, 1, 1.6],
                    "small": True,
                    "rows": [[d["file"], d["kind"], d["period"], d["status"]] for d in f["deliveries"]],
                }
            )
        warned = [d for d in f["deliveries"] if d["warning"]]
        blocks.append({"t": "h2", "text": "Varningar och karantän"})
        if f.get("completeness", {}).get("quarantined_file_name"):
            blocks.append(
                {
                    "t": "p",
                    "text": f"I karantän: {f['completeness']['quarantined_file_name']}; siffrorna saknar den leveransen.",
                }
            )
        if warned:
            blocks.append(
                {"t": "p", "text": "Lästes in med varningar: " + ", ".join(sorted({d["file"] for d in warned})) + "."}
            )
        if not warned and not f.get("completeness", {}).get("quarantined_file_name"):
            blocks.append({"t": "p", "text": "Inga varningar och inget i karantän för perioden."})
    return blocks


# --- the board pack -----------------------------------------------------------------------------


def board_blocks(f: dict) -> list[dict]:
    assoc, period = f["association"], f["period"]
    blocks: list[dict] = [
        {
            "t": "title",
            "kicker": "Styrelseunderlag",
            "title": assoc["name"],
            "subtitle": period["title"],
            "lines": [["Underlaget publicerat", f["published_at"]], ["Urval", header_text(f)]],
        },
        {"t": "h1", "text": "Insatserna"},
        {
            "t": "table",
            "columns": [
                "Insats",
                "Deltagare",
                "Nya",
                "Aktiva vid slut",
                "Avslut",
                "Arbete/studier/rehab*",
                "Arbete/studier**",
                "Data",
            ],
            "align": ["l", "r", "r", "r", "r", "r", "r", "l"],
            "widths": [3, 1, 0.8, 1, 0.9, 1.3, 1.2, 1.2],
            "small": True,
            "rows": [
                [
                    i["name"],
                    i["participants"]["t"],
                    i["entrants"]["t"],
                    i["active"]["t"],
                    i["exits"]["t"],
                    i["share_wsr"]["t"],
                    i["share_ws"]["t"],
                    {"complete": "i tid", "late": "sen", "quarantined": "karantän", "missing_delivery": "saknas"}.get(
                        i["completeness"], i["completeness"]
                    ),
                ]
                for i in f["interventions"]
            ],
        },
        {
            "t": "note",
            "text": "* av avslut exkl. tidiga avhopp; ** av alla avslut. Data: om periodens leveranser kom i tid, "
            "sent, ligger i karantän eller saknas.",
        },
        {"t": "h1", "text": "Ekonomi per insats"},
        {
            "t": "table",
            "columns": ["Insats", "Utfall t.o.m.", "Budget", "Utfall", "Differens", "Prognos", "Beviljat"],
            "align": ["l", "l", "r", "r", "r", "r", "r"],
            "widths": [3, 1.3, 1.2, 1.2, 1.1, 1, 1.2],
            "small": True,
            "rows": [
                [
                    i["name"],
                    i["budget"]["actuals_through"],
                    i["budget"]["budget"]["t"],
                    i["budget"]["actual"]["t"],
                    i["budget"]["difference"]["t"],
                    i["budget"]["forecast"]["t"],
                    i["budget"]["granted"]["t"],
                ]
                for i in f["interventions"]
                if i["budget"]
            ],
        },
    ]
    funding = f["funding"]
    blocks.append({"t": "h1", "text": "Finansiering"})
    if funding:
        blocks.append(
            {
                "t": "table",
                "caption": f"Medlemmarnas tillskott, budget per {funding['through']} (kr)",
                "columns": ["Finansiär", "Belopp", "Andel"],
                "align": ["l", "r", "r"],
                "widths": [3, 1.3, 1],
                "rows": [[p["party"], p["amount"]["t"], p["share"]["t"]] for p in funding["parties"]]
                + ([["Summa", funding["total"]["t"], ""]] if funding["total"] else []),
                "total_last": bool(funding["total"]),
            }
        )
        blocks.append(
            {
                "t": "table",
                "caption": "Kontroll mot lagen (2003:1210) 5 §: staten 1/2, regionen 1/4, kommunerna 1/4",
                "columns": ["Grupp", "Belopp", "Andel", "Enligt lag", "Stämmer"],
                "align": ["l", "r", "r", "r", "l"],
                "widths": [2, 1.3, 1, 1, 1],
                "rows": [
                    [g["group"], g["amount"]["t"], g["share"]["t"], g["expected"]["t"], g["ok"]]
                    for g in funding["groups"]
                ],
            }
        )
        blocks.append(
            {
                "t": "p",
                "text": "Fördelningen bryter mot 50/25/25-regeln."
                if funding["breaks_rule"]
                else "Fördelningen följer 50/25/25-regeln.",
            }
        )
    else:
        blocks.append({"t": "p", "text": "Ingen finansieringsleverans inom perioden."})
    admin = f["admin"]
    if admin:
        blocks.append(
            {
                "t": "p",
                "text": f"Administrativ andel: {admin['share']['t']} av förbundets kostnader "
                f"({admin['admin']['t']} kr av {admin['total']['t']} kr i utfall).",
            }
        )
    blocks.append({"t": "h1", "text": "Insatser som bara redovisar antal"})
    volume = f["volume"]
    if not volume["rows"]:
        blocks.append({"t": "p", "text": "Inga."})
    for row in volume["rows"]:
        if row["counts"] is None:
            blocks.append({"t": "p", "text": row["name"]})
        else:
            counts = ", ".join(f"{c['label']} {c['n']['t']}" for c in row["counts"]) or "inga antal levererade"
            blocks.append({"t": "p", "text": f"{row['name']}: {counts}."})
    if volume["note"]:
        blocks.append({"t": "note", "text": volume["note"]})
    if f.get("public_note"):
        blocks.append({"t": "note", "text": f["public_note"]})
    blocks += _appendix_blocks({"definitions": f["definitions"]})
    return blocks


# --- the county comparison ----------------------------------------------------------------------


def county_blocks(f: dict) -> list[dict]:
    period = f["period"]
    blocks: list[dict] = [
        {
            "t": "title",
            "kicker": "Länsjämförelse",
            "title": "Förbund och insatser i länet",
            "subtitle": period["title"],
            "lines": [
                ["Länets median (arbete eller studier)", f["median_share_ws"]["t"]],
                [
                    "Nationell referens",
                    f"{f['national_share_ws']['t']} av dem som avslutade gick till arbete eller studier",
                ],
                ["Underlaget publicerat", f["published_at"]],
                ["Urval", header_text(f)],
            ],
        }
    ]
    if f["associations"]:
        blocks.append({"t": "h1", "text": "Förbunden"})
        blocks.append(
            {
                "t": "table",
                "columns": ["Förbund", "Insatser", "Personer", "Nya", "Avslut", "Till arbete/studier", "Andel"],
                "align": ["l", "r", "r", "r", "r", "r", "r"],
                "widths": [3.2, 0.9, 1, 0.8, 0.9, 1.3, 0.9],
                "rows": [
                    [
                        a["name"],
                        str(a["interventions"]),
                        a["people"]["t"],
                        a["new"]["t"],
                        a["exits"]["t"],
                        a["exits_ws"]["t"],
                        a["share_ws"]["t"],
                    ]
                    for a in f["associations"]
                ],
                "total_last": True,
            }
        )
    blocks.append({"t": "h1", "text": "Insatserna"})
    blocks.append(
        {
            "t": "table",
            "columns": [
                "Förbund",
                "Insats",
                "Deltagare",
                "Avslut",
                "Arbete/studier",
                "Arbete/studier/rehab*",
                "Tid (mån)",
            ],
            "align": ["l", "l", "r", "r", "r", "r", "r"],
            "widths": [2.6, 2.6, 1, 0.9, 1.1, 1.3, 0.9],
            "small": True,
            "rows": [
                [
                    i["association"],
                    i["name"],
                    i["participants"]["t"],
                    i["exits"]["t"],
                    i["share_ws"]["t"],
                    i["share_wsr"]["t"],
                    i["avg_months"]["t"],
                ]
                for i in f["interventions"]
            ],
        }
    )
    blocks.append({"t": "note", "text": "* av avslut exkl. tidiga avhopp. Arbete/studier: av alla avslut."})
    items = [{"label": _clip(i["name"]), "cell": i["share_ws"]} for i in f["interventions"]]
    items += [
        {"label": "Länets median", "cell": f["median_share_ws"]},
        {"label": "Nationell referens", "cell": f["national_share_ws"]},
    ]
    chart_items = [dict(i, cell={"v": (i["cell"]["v"] or 0) * 100, "t": i["cell"]["t"]}) for i in items]
    blocks.append(
        _chart(
            charts.bars(chart_items, "Andel av avsluten till arbete eller studier", horizontal=True),
            "Andel av alla avslut som gick till arbete eller studier, per insats, med länets median och den nationella referensen (31 %).",
        )
    )
    if f.get("public_note"):
        blocks.append({"t": "note", "text": f["public_note"]})
    blocks += _appendix_blocks({"definitions": f["definitions"]})
    return blocks


def blocks_for(figures: dict) -> list[dict]:
    return {"intervention": intervention_blocks, "board": board_blocks, "county": county_blocks}[figures["kind"]](
        figures
    )


def document_title(figures: dict) -> str:
    if figures["kind"] == "intervention":
        return f"{figures['intervention']['name']} – {figures['period']['title']}"
    if figures["kind"] == "board":
        return f"Styrelseunderlag {figures['association']['name']} – {figures['period']['title']}"
    return f"Länsjämförelse – {figures['period']['title']}"


def texts(blocks: list[dict]) -> list[str]:
    """Every text of the blocks (for tests and checks)."""
    out = []
    for b in blocks:
        for key in ("text", "title", "subtitle", "kicker", "caption"):
            if b.get(key):
                out.append(b[key])
        for row in b.get("rows", []) + b.get("lines", []):
            out.extend(_t(c) for c in row)
        out.extend(b.get("columns", []))
    return out


def _clip(name: str, width: int = 30) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"
