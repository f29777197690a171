"""Deterministic generator of the sample county (Dalarna), the Skellefteå reference and
national-scale benchmark deliveries.

    python data/generate_sample.py                      # data/sample/ + data/sample_reference/ + config/registry.yml
    python data/generate_sample.py --out DIR            # the sample county into DIR
    python data/generate_sample.py --scale national --out DIR [--associations 75 --interventions 600
                                   --years 10 --start-year 2015 --fraction 1.0]

Everything is synthetic: every personnummer is made from a random birth date and a random
serial with a valid Luhn digit; no real person is described. A fixed seed, fixed dates and
fixed xlsx document properties/zip timestamps make every run write the same bytes.
"""
from __future__ import annotations

import argparse
import csv
import io
import random
import re
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED = 20160630
FIXED_TIME = datetime(2017, 1, 15, 8, 0, 0)
ZIP_TIME = (2017, 1, 15, 8, 0, 0)

DALARNA = {
    "2084": "Avesta", "2083": "Hedemora", "2082": "Säter", "2080": "Falun", "2081": "Borlänge",
    "2085": "Ludvika", "2061": "Smedjebacken", "2062": "Mora", "2029": "Leksand", "2031": "Rättvik",
    "2034": "Orsa", "2039": "Älvdalen", "2026": "Gagnef", "2023": "Malung-Sälen", "2021": "Vansbro",
}
TEAM_EMAIL = "finsam-data@region-dalarna.example"

ASSOCIATIONS = [
    ("SODRA", "Södra Dalarnas samordningsförbund", ["2084", "2083", "2082"]),
    ("MITT", "Samordningsförbundet Mitt i Dalarna", ["2080", "2081", "2026"]),
    ("NORR", "Samordningsförbundet Norra Dalarna", ["2062", "2034", "2039", "2029", "2031"]),
]

# code, association, name, inriktning, malgrupp, matmetod, start, slut, platser, planerat, kommun, e-post, esf, episodes
INTERVENTIONS = [
    ("AVESTA", "SODRA", "Samverkansteam Avesta", "INDIVID", "FBS_LANGVARIGT+SJUKSKRIVNA", "PERSON",
     date(2015, 5, 1), None, 40, 60, "2084", "avesta.team@avesta.example", "Nej", 0),
    ("KRAFTEN", "SODRA", "Kraften Hedemora", "INDIVID", "PSYKISK_OHALSA", "PERSON",
     date(2015, 1, 15), None, 20, 35, "2083", "kraften@hedemora.example", "Nej", 62),
    ("SATER", "SODRA", "Samverkansteam Säter", "INDIVID", "ALLA_16_64", "PERSON",
     date(2015, 3, 1), None, 15, 25, "2082", "samverkansteam@sater.example", "Nej", 48),
    ("UNGVUXNA", "MITT", "Unga vuxna i arbete", "INDIVID", "UNGA_16_29", "PERSON",
     date(2014, 9, 1), date(2017, 8, 31), 30, 50, "2080", "ungavuxna@falun.example", "Ja", 80),
    ("VAGEN", "MITT", "Vägen – unga vuxna med psykisk ohälsa", "INDIVID", "UNGA_16_29+PSYKISK_OHALSA", "PERSON",
     date(2015, 2, 1), date(2018, 1, 31), 15, 30, "2081", "vagen@borlange.example", "Nej", 55),
    ("FRAMSTEG", "MITT", "Framsteg", "INDIVID", "FBS_LANGVARIGT", "PERSON",
     date(2015, 1, 1), None, 25, 40, "2026", "framsteg@gagnef.example", "Nej", 60),
    ("JOBBNORR", "NORR", "Jobb i Norra Dalarna", "INDIVID", "ALLA_16_64", "PERSON",
     date(2014, 6, 1), None, 35, 55, "2062", "jobbnorr@mora.example", "Ja", 85),
    ("METODUTB", "NORR", "Metodutbildning för handläggare", "STRUKTUR", "ALLA_16_64", "VOLYM",
     date(2015, 1, 1), date(2016, 12, 31), None, 120, "2034", "metod@orsa.example", "Nej", 0),
]
YEARS = (2015, 2016)
TERTIAL_END = {1: (4, 30), 2: (8, 31), 3: (12, 31)}
AS_OF = date(2016, 6, 30)

# --------------------------------------------------------------- labels (how owners write codes)

KON_LABEL = {"K": ["K", "Kvinna"], "M": ["M", "Man"]}
REMITTENT_LABEL = {"FK": ["FK", "Försäkringskassan"], "AF": ["AF", "Arbetsförmedlingen"],
                   "KOMMUN": ["KOMMUN", "Socialtjänsten", "Kommun"], "REGION": ["REGION", "Psykiatrin", "Vårdcentral"],
                   "EGEN": ["Egen anmälan"], "ANNAN": ["Annan aktör"]}
FORS_LABEL = {"FBS": ["FBS", "Försörjningsstöd", "ek. bistånd"], "SJP": ["SJP", "Sjukpenning"],
              "AKE": ["AKE", "Aktivitetsersättning"], "SJE": ["SJE", "Sjukersättning"], "AKASSA": ["A-kassa"],
              "AKS": ["AKS", "Aktivitetsstöd"], "INGEN": ["INGEN", "Ingen"], "OVR": ["OVR", "Övrigt"],
              "LON": ["LON", "Lön"], "SUBV": ["SUBV", "Lönebidrag"], "CSN": ["CSN", "Studiemedel"],
              "ETB": ["ETB"], "AKS+FBS": ["AKS+FBS", "AKS/FBS"]}
REASON_LABEL = {"ARBETE": ["ARBETE", "Arbete"], "STUDIER": ["STUDIER", "Studier"],
                "REHAB": ["REHAB", "Annan arbetslivsinriktad insats"], "SJE_AKE": ["SJE_AKE", "Sjukersättning"],
                "AVBROTT": ["AVBROTT", "Tidigt avhopp"], "ANNAT": ["ANNAT", "Annat"], "FLYTT": ["FLYTT", "Flytt"],
                "OHALSA": ["OHALSA", "Ohälsa"], "ARBETSSOKANDE": ["ARBETSSOKANDE", "Arbetssökande"],
                "SUBV_ARBETE": ["SUBV_ARBETE", "Lönebidrag"]}
REASON_SYSS = {"ARBETE": "ARBETE", "STUDIER": "STUDIER", "REHAB": "REHAB", "SJE_AKE": "EJ_AKTUELL",
               "AVBROTT": "OKAND", "ANNAT": "OKAND", "FLYTT": "OKAND", "OHALSA": "EJ_AKTUELL",
               "ARBETSSOKANDE": "ARBETSSOKANDE", "SUBV_ARBETE": "SUBV_ARBETE"}

# Header spellings per column: index 0 canonical, then Swedish variants (all in contract.yml).
D_COLUMNS = ["deltagar_id", "personnummer", "kon", "fodelsear", "kommun", "startdatum", "slutdatum", "remittent",
             "forsorjning_fore", "forsorjning_efter", "sysselsattning_fore", "sysselsattning_efter",
             "omfattning_efter", "utbildning", "tid_offentlig_forsorjning", "avslutsanledning", "anonym"]
D_HEADERS = {
    "deltagar_id": ["deltagar_id", "Deltagar-ID", "Löpnummer"],
    "personnummer": ["personnummer", "Personnummer", "Pnr"],
    "kon": ["kon", "Kön", "KÖN"],
    "fodelsear": ["fodelsear", "Födelseår", "Född"],
    "kommun": ["kommun", "Folkbokföringskommun", "Kommun"],
    "startdatum": ["startdatum", "Startdatum", "Inskrivningsdatum"],
    "slutdatum": ["slutdatum", "Slutdatum", "Avslutsdatum"],
    "remittent": ["remittent", "Remitterande aktör", "Remitterad av"],
    "forsorjning_fore": ["forsorjning_fore", "Försörjning vid start", "Försörjning före"],
    "forsorjning_efter": ["forsorjning_efter", "Försörjning vid avslut", "Försörjning efter"],
    "sysselsattning_fore": ["sysselsattning_fore", "Sysselsättning före", "Sysselsättning vid start"],
    "sysselsattning_efter": ["sysselsattning_efter", "Sysselsättning efter", "Sysselsättning vid avslut"],
    "omfattning_efter": ["omfattning_efter", "Omfattning", "Omfattning efter"],
    "utbildning": ["utbildning", "Utbildningsnivå", "Utbildningsnivå"],
    "tid_offentlig_forsorjning": ["tid_offentlig_forsorjning", "Tid i offentlig försörjning",
                                  "Tid i offentlig försörjning före start"],
    "avslutsanledning": ["avslutsanledning", "Avslutsorsak", "Avslutsanledning"],
    "anonym": ["anonym", "Anonym deltagare", "Anonym deltagare"],
}
B_COLUMNS = ["ar", "period_slut", "radtyp", "kostnadsslag", "finansiar", "rad_text", "budget", "utfall",
             "differens", "prognos"]
B_HEADERS = {"ar": ["ar", "År"], "period_slut": ["period_slut", "Period slut"], "radtyp": ["radtyp", "Typ"],
             "kostnadsslag": ["kostnadsslag", "Kostnadsslag"], "finansiar": ["finansiar", "Finansiär"],
             "rad_text": ["rad_text", "Benämning"], "budget": ["budget", "Budget"], "utfall": ["utfall", "Utfall"],
             "differens": ["differens", "Differens"], "prognos": ["prognos", "Helårsprognos"]}
I_COLUMNS = ["insats_kod", "namn", "inriktning", "malgrupp", "matmetod", "startdatum", "slutdatum", "platser",
             "planerat_antal", "huvudman", "agare_epost", "esf"]
I_HEADERS = {"insats_kod": ["insats_kod", "Insatskod"], "namn": ["namn", "Insatsnamn"],
             "inriktning": ["inriktning", "Inriktning"], "malgrupp": ["malgrupp", "Målgrupp"],
             "matmetod": ["matmetod", "Mätmetod"], "startdatum": ["startdatum", "Start"],
             "slutdatum": ["slutdatum", "Slut"], "platser": ["platser", "Antal platser"],
             "planerat_antal": ["planerat_antal", "Planerat antal deltagare"],
             "huvudman": ["huvudman", "Huvudmän"], "agare_epost": ["agare_epost", "Ägare e-post"],
             "esf": ["esf", "ESF-finansierad"]}
# Targets in the register (contract 1.1): MITT's registers carry the columns (VÄGEN with KRUS's
# targets: 30 participants a year, 30 % to work/studies/rehabilitation, at most 12 months); the
# other associations' registers are as before (a register without them stays valid).
I_TARGET_COLUMNS = ["mal_deltagare_per_ar", "mal_andel_arbete_studier_rehab", "max_manader"]
I_TARGET_HEADERS = {"mal_deltagare_per_ar": ["mal_deltagare_per_ar", "Mål antal deltagare per år"],
                    "mal_andel_arbete_studier_rehab": ["mal_andel_arbete_studier_rehab",
                                                       "Mål andel arbete studier rehabilitering"],
                    "max_manader": ["max_manader", "Maxtid månader"]}
TARGETS = {"VAGEN": [30, 30, 12], "UNGVUXNA": [60, 40, None]}
V_COLUMNS = ["ar", "period_slut", "kon", "antal"]
V_HEADERS = {"ar": ["ar", "År"], "period_slut": ["period_slut", "Period slut"], "kon": ["kon", "Kön"],
             "antal": ["antal", "Antal deltagare"]}


# --------------------------------------------------------------- personnummer

def luhn_digit(nine: str) -> str:
    total = 0
    for index, char in enumerate(nine):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return str((10 - total % 10) % 10)


def luhn_ok(ten: str) -> bool:
    return luhn_digit(ten[:9]) == ten[9]


def make_pnr(rng: random.Random, birth_year: int, used: set) -> str:
    """A synthetic, Luhn-valid personnummer as 12 digits YYYYMMDDNNNC."""
    while True:
        born = date(birth_year, 1, 1) + timedelta(days=rng.randint(0, 364))
        nine = f"{born:%y%m%d}{rng.randint(0, 999):03d}"
        pnr = f"{born:%Y%m%d}{nine[6:]}{luhn_digit(nine)}"
        if pnr not in used:
            used.add(pnr)
            return pnr


def pnr_text(pnr: str, form: str) -> str:
    return f"{pnr[:8]}-{pnr[8:]}" if form == "12" else f"{pnr[2:8]}-{pnr[8:]}"


# --------------------------------------------------------------- value formatting

def fmt_date(value: date | None, form: str) -> str:
    if value is None:
        return ""
    if form == "iso":
        return value.isoformat()
    if form == "ymd8":
        return value.strftime("%Y%m%d")
    if form == "ymd6":
        return value.strftime("%y%m%d")
    if form == "dmy":
        return f"{value.day}/{value.month} {value.year}"
    raise ValueError(form)


def sek(amount: float, sep: str = " ", decimal_comma: bool = False, sign: bool = False, minus: str = "-") -> str:
    """1775000 -> '1 775 000'; with decimal_comma '1 775 000,50'; sign=True writes '+20 000'."""
    negative = amount < 0
    whole = int(abs(round(amount * 100))) // 100
    cents = int(abs(round(amount * 100))) % 100
    text = f"{whole:,}".replace(",", sep)
    if decimal_comma and cents:
        text += f",{cents:02d}"
    if negative:
        return minus + text
    return ("+" + text) if sign and amount > 0 else text


def tertial_end(year: int, t: int) -> date:
    month, day = TERTIAL_END[t]
    return date(year, month, day)


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    last = [31, 29 if year % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    return date(year, month, min(d.day, last))


# --------------------------------------------------------------- writers

def write_csv(path: Path, header: list[str], rows: list[list], *, sep: str = ";", encoding: str = "utf-8",
              title: list[str] | None = None) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=sep, lineterminator="\r\n" if encoding == "cp1252" else "\n")
    if title:
        for line in title:
            writer.writerow([line] if line else [])
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode(encoding))


def _stable_zip(path: Path) -> None:
    """Rewrite an xlsx with fixed zip timestamps and fixed document dates: same bytes every run."""
    with zipfile.ZipFile(path) as source:
        parts = [(info.filename, source.read(info.filename)) for info in source.infolist()]
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms)", rb"\g<1>" + stamp + rb"\g<2>", data)
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            target.writestr(info, data)
    path.write_bytes(out.getvalue())


def write_xlsx(path: Path, header: list[str], rows: list[list], *, sheet: str = "Blad1",
               title: list[str] | None = None, date_format: str = "yyyy-mm-dd") -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    wb.properties.creator = "Finsam sample generator"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    for line in title or []:
        ws.append([line] if line else [])
    ws.append(header)
    for row in rows:
        ws.append(["" if v is None else v for v in row])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, date):
                cell.number_format = date_format
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    _stable_zip(path)


def write_table(path: Path, header: list[str], rows: list[list], fmt: dict) -> None:
    """fmt: {'ext': 'csv'|'xlsx', 'sep', 'encoding', 'title'}; xlsx keeps date objects as real dates."""
    if fmt["ext"] == "xlsx":
        write_xlsx(path, header, rows, sheet=fmt.get("sheet", "Blad1"), title=fmt.get("title"))
    else:
        write_csv(path, header, rows, sep=fmt.get("sep", ";"), encoding=fmt.get("encoding", "utf-8"),
                  title=fmt.get("title"))


CSV_FORMATS = [
    {"ext": "csv", "sep": ";", "encoding": "utf-8", "dates": "iso"},
    {"ext": "csv", "sep": ";", "encoding": "cp1252", "dates": "ymd8"},
    {"ext": "xlsx"},
    {"ext": "csv", "sep": ",", "encoding": "utf-8-sig", "dates": "dmy"},
    {"ext": "csv", "sep": ";", "encoding": "utf-8", "dates": "ymd6"},
    {"ext": "xlsx", "title": True},
]


# --------------------------------------------------------------- episodes

class Episode:
    __slots__ = ("pnr", "pnr_form", "deltagar_id", "anonym", "kon", "kon_style", "fodelsear", "kommun",
                 "start", "end", "remittent", "fore", "efter", "syss_fore", "syss_efter", "omfattning",
                 "utbildning", "tid", "reason", "label_style")

    def __init__(self, **values):
        for name in self.__slots__:
            setattr(self, name, values.get(name))

    def row(self, period_end: date, date_form: str | None, *, canonical: bool = False) -> list:
        """The episode as one row of a delivery for `period_end` (exit fields only once exited)."""
        ended = self.end is not None and self.end <= period_end
        style = 0 if canonical else self.label_style

        def label(table, code):
            if code is None:
                return ""
            options = table[code]
            return options[min(style, len(options) - 1)]

        def d(value):
            if value is None:
                return ""
            return value if date_form is None else fmt_date(value, date_form)

        kommun = self.kommun if (style == 0 or self.kommun not in DALARNA) else DALARNA[self.kommun]
        return [
            "" if self.anonym else (self.deltagar_id or ""),
            "" if (self.anonym or not self.pnr) else pnr_text(self.pnr, self.pnr_form),
            KON_LABEL[self.kon][min(self.kon_style, 1)] if not canonical else self.kon,
            self.fodelsear,
            kommun,
            d(self.start),
            d(self.end) if ended else "",
            label(REMITTENT_LABEL, self.remittent),
            label(FORS_LABEL, self.fore),
            label(FORS_LABEL, self.efter) if ended else "",
            self.syss_fore or "",
            (self.syss_efter or "") if ended else "",
            (self.omfattning if self.omfattning is not None else "") if ended else "",
            self.utbildning or "",
            self.tid or "",
            label(REASON_LABEL, self.reason) if ended else "",
            "Ja" if self.anonym else ("Nej" if style else ""),
        ]


def _outcome(rng: random.Random, reason: str, fore: str) -> tuple[str, int | None]:
    efter = {"ARBETE": "LON", "STUDIER": "CSN", "SUBV_ARBETE": "SUBV", "SJE_AKE": rng.choice(["SJE", "AKE"]),
             "REHAB": rng.choice(["SJP", "FBS", "AKS"]), "ARBETSSOKANDE": rng.choice(["AKS", "AKASSA", "FBS"]),
             "AVBROTT": fore if "+" not in fore else "FBS", "OHALSA": rng.choice(["SJP", "FBS"]),
             "FLYTT": fore if "+" not in fore else "FBS", "ANNAT": rng.choice(["FBS", "INGEN", "OVR"])}[reason]
    omfattning = rng.choice([25, 50, 75, 100]) if reason in ("ARBETE", "STUDIER", "SUBV_ARBETE") else None
    return efter, omfattning


def _person(rng, used, *, start, kommun, ident_prefix, serial, kon=None, anonym=False, id_only=False,
            age=None, pnr=None, fodelsear=None, label_style=0):
    kon = kon or rng.choice("KM")
    if fodelsear is None:
        fodelsear = start.year - (age if age is not None else rng.randint(18, 64))
    if anonym or id_only:
        pnr = None
    elif pnr is None:
        pnr = make_pnr(rng, fodelsear, used)
    return Episode(pnr=pnr, pnr_form=rng.choice(["12", "12", "10"]),
                   deltagar_id=None if (pnr or anonym) else f"{ident_prefix}-{serial:03d}",
                   anonym=anonym, kon=kon, kon_style=rng.randint(0, 1), fodelsear=fodelsear, kommun=kommun,
                   start=start, end=None, syss_fore=rng.choice(["ARBETSSOKANDE", "EJ_AKTUELL", "EJ_AKTUELL", "OKAND"]),
                   utbildning=rng.choice(["FORGYMNASIAL", "GYMNASIAL", "GYMNASIAL", "EFTERGYMNASIAL", "OKAND"]),
                   tid=rng.choice(["<1", "1-2", "2-5", "2-5", "5-10", "10+"]), label_style=label_style)


def avesta_episodes(rng: random.Random, used: set) -> list[Episode]:
    """Samverkansteam Avesta: exactly the 2015-07-01 – 2016-06-30 report (seed 002) as of 2016-06-30."""
    first = date(2015, 5, 13)
    starts = [first] * 6 + sorted(first + timedelta(days=rng.randint(1, 48)) for _ in range(6))
    late = date(2015, 7, 1)
    starts += sorted(late + timedelta(days=rng.randint(0, (AS_OF - late).days)) for _ in range(45))
    starts.sort()
    assert len(starts) == 57
    sexes = ["K"] * 30 + ["M"] * 27
    referrers = ["KOMMUN"] * 25 + ["FK"] * 21 + ["REGION"] * 8 + ["AF"] * 3
    support = ["FBS"] * 33 + ["SJP"] * 12 + ["AKE"] * 5 + ["SJE"] * 5 + ["OVR", "INGEN"]
    for values in (sexes, referrers, support):
        rng.shuffle(values)
    long_days = [365, 365, 350, 340, 335, 330, 320, 310, 300, 300, 290, 280, 270, 270]      # 4 425 days
    long_reasons = ["ARBETE"] * 5 + ["REHAB"] * 2 + ["SJE_AKE"] * 2 + ["ANNAT", "ANNAT", "FLYTT", "OHALSA",
                                                                          "ARBETSSOKANDE"]
    rng.shuffle(long_reasons)
    drop_days = [30, 45, 60, 75]                                                               # 210 days
    # 18 exits: mean (4425 + 210) / 18 = 257.5 days = 8.46 months (days / 30.4375); max 365 days.
    episodes = []
    drop_candidates = [i for i in range(14, 57) if starts[i] <= date(2016, 3, 31)]
    drops = set(rng.sample(drop_candidates, 4))
    drop_iter = iter(drop_days)
    for i, start in enumerate(starts):
        form = rng.random()
        id_only = form < 0.25
        ep = _person(rng, used, start=start, kommun="2084", ident_prefix="AV", serial=i + 1, kon=sexes[i],
                     id_only=id_only, label_style=rng.randint(0, 2))
        ep.remittent, ep.fore = referrers[i], support[i]
        if i < 14:
            ep.end, ep.reason = start + timedelta(days=long_days[i]), long_reasons[i]
            assert ep.end <= AS_OF, (start, long_days[i])
        elif i in drops:
            ep.end, ep.reason = start + timedelta(days=next(drop_iter)), "AVBROTT"
            assert ep.end <= AS_OF
        else:  # active 2016-07-01; some leave later (max 12 months), the rest stay into 2017
            stay = rng.randint(200, 365)
            end = start + timedelta(days=stay)
            if end <= AS_OF:
                end = AS_OF + timedelta(days=rng.randint(5, 60))
            if (end - start).days <= 365 and end <= date(2016, 12, 31) and rng.random() < 0.6:
                ep.end, ep.reason = end, rng.choice(["ARBETE", "STUDIER", "REHAB", "ARBETSSOKANDE", "ANNAT"])
        if ep.end is not None:
            ep.efter, ep.omfattning = _outcome(rng, ep.reason, ep.fore)
            ep.syss_efter = REASON_SYSS[ep.reason]
        episodes.append(ep)
    # later intakes (July–December 2016): outside the report period, must not change its figures
    for j in range(12):
        start = date(2016, 7, 1) + timedelta(days=rng.randint(0, 165))
        ep = _person(rng, used, start=start, kommun=rng.choice(["2084", "2084", "2083"]), ident_prefix="AV",
                     serial=58 + j, anonym=(j == 3), id_only=(j % 4 == 1), label_style=rng.randint(0, 2))
        ep.remittent = rng.choice(["KOMMUN", "FK", "REGION", "AF"])
        ep.fore = rng.choice(["FBS", "FBS", "SJP", "AKE"])
        if rng.random() < 0.25:
            ep.end = start + timedelta(days=rng.randint(20, 60))
            if ep.end <= date(2016, 12, 31):
                ep.reason = "AVBROTT"
                ep.efter, ep.omfattning = _outcome(rng, ep.reason, ep.fore)
                ep.syss_efter = REASON_SYSS[ep.reason]
            else:
                ep.end = None
        episodes.append(ep)
    episodes.sort(key=lambda e: (e.start, e.deltagar_id or "", e.pnr or ""))
    return episodes


def generic_episodes(rng: random.Random, used: set, code: str, start: date, count: int, kommuner: list[str],
                     young: bool, shared: list[str]) -> list[Episode]:
    """Episodes of one intervention from its start to 2016-12-20; `shared` personnummer are reused."""
    last = date(2016, 12, 20)
    first = max(start, date(2014, 9, 1))
    prefix = code[:2]
    episodes = []
    shared = list(shared)
    for i in range(count):
        s = first + timedelta(days=rng.randint(0, (last - first).days))
        pnr = None
        fodelsear = None
        if shared and i % 5 == 2:
            pnr = shared.pop()
            fodelsear = int(pnr[:4])
            if not 18 <= s.year - fodelsear <= 64:
                s = date(fodelsear + 30, s.month, min(s.day, 28)) if fodelsear + 30 <= 2016 else s
        roll = rng.random()
        ep = _person(rng, used, start=s, kommun=rng.choice(kommuner), ident_prefix=prefix, serial=i + 1,
                     anonym=pnr is None and roll < 0.06, id_only=pnr is None and 0.06 <= roll < 0.2,
                     age=rng.randint(18, 29) if young else None, pnr=pnr, fodelsear=fodelsear,
                     label_style=rng.randint(0, 2))
        ep.remittent = rng.choice(["KOMMUN", "KOMMUN", "FK", "FK", "AF", "REGION", "EGEN"])
        ep.fore = rng.choice(["FBS", "FBS", "FBS", "SJP", "AKE", "AKS", "AKS+FBS", "AKASSA", "INGEN", "SJE"])
        stay = rng.randint(25, 60) if rng.random() < 0.2 else rng.randint(90, 400)
        end = s + timedelta(days=stay)
        if end <= date(2016, 12, 31):
            ep.end = end
            ep.reason = "AVBROTT" if stay <= 60 else rng.choice(
                ["ARBETE", "ARBETE", "STUDIER", "SUBV_ARBETE", "REHAB", "REHAB", "SJE_AKE", "ARBETSSOKANDE",
                 "OHALSA", "FLYTT", "ANNAT"])
            ep.efter, ep.omfattning = _outcome(rng, ep.reason, ep.fore)
            ep.syss_efter = REASON_SYSS[ep.reason]
        episodes.append(ep)
    episodes.sort(key=lambda e: (e.start, e.deltagar_id or "", e.pnr or ""))
    return episodes


def deltagare_rows(episodes: list[Episode], period_end: date, date_form: str | None) -> list[list]:
    return [ep.row(period_end, date_form) for ep in episodes if ep.start <= period_end]


# --------------------------------------------------------------- budget

def intervention_budget_rows(rng: random.Random, year: int, period_end: date, total: int, *, granted: int | None,
                             decimal: bool, nbsp: bool, amounts_as_numbers: bool) -> list[list]:
    share = {"PERSONAL": 0.78, "LOKALER": 0.10, "OVRIGT": 0.12}
    texts = {"PERSONAL": "Personal", "LOKALER": "Lokaler", "OVRIGT": "Övriga kostnader"}
    elapsed = (period_end - date(year, 1, 1)).days / 365
    sep = "\u00a0" if nbsp else " "
    rows = []
    for kind, part in share.items():
        budget = int(round(total * part, -3))
        actual = round(budget * elapsed * rng.uniform(0.85, 1.08), 2 if decimal else -3)
        forecast = int(round(rng.uniform(-0.05, 0.08) * budget, -3))
        values = [budget, actual, budget - actual, forecast]
        if not amounts_as_numbers:
            values = [sek(v, sep, decimal) for v in values[:3]] + [sek(forecast, sep, sign=True)]
        rows.append([year, period_end, "KOSTNAD", kind, "", texts[kind], *values])
    if granted is not None:
        rows.append([year, period_end, "BEVILJAT", "", "", "Beviljat av styrelsen",
                     granted if amounts_as_numbers else sek(granted, sep), "", "", ""])
    return rows


def association_budget_rows(year: int, period_end: date, total: int, kommuner: list[str], *, names: bool,
                            region_share: float = 0.25) -> list[list]:
    state = int(total * 0.5)
    region = int(round(total * region_share))
    municipal = total - state - region
    per = [municipal // len(kommuner)] * len(kommuner)
    per[0] += municipal - sum(per)
    elapsed = (period_end - date(year, 1, 1)).days / 365
    rows = [[year, period_end, "FINANSIERING", "", "STAT", "Statlig medlemsavgift via Försäkringskassan",
             sek(state), sek(state * elapsed, "\u00a0"), "", ""],
            [year, period_end, "FINANSIERING", "", "REGION", "Region Dalarna", sek(region), sek(region * elapsed), "", ""]]
    for code, amount in zip(kommuner, per):
        rows.append([year, period_end, "FINANSIERING", "", DALARNA[code] if names else f"KOMMUN:{code}",
                     f"Medlemsavgift {DALARNA[code]} kommun", sek(amount), sek(amount * elapsed), "", ""])
    admin = int(total * 0.12)
    for text, part in (("Kansli och förbundschef", 0.7), ("Revision och styrelse", 0.3)):
        budget = int(admin * part)
        actual = int(round(budget * elapsed, -3))
        rows.append([year, period_end, "KOSTNAD", "ADMIN", "", text, sek(budget), sek(actual),
                     sek(budget - actual), "0"])
    # the board's grant for the association's own administration (the cost lines above)
    rows.append([year, period_end, "BEVILJAT", "", "", "Beviljat av styrelsen (kansli och styrelse)",
                 sek(int(admin * 0.7) + int(admin * 0.3)), "", "", ""])
    return rows


ASSOC_TOTAL = {"SODRA": 9_600_000, "MITT": 14_400_000, "NORR": 8_800_000}
INTERVENTION_TOTAL = {"KRAFTEN": 1_400_000, "SATER": 1_150_000, "UNGVUXNA": 2_600_000, "VAGEN": 1_900_000,
                      "FRAMSTEG": 1_700_000, "JOBBNORR": 2_300_000, "METODUTB": 400_000, "AVESTA": 2_100_000}


def avesta_budget_h1() -> tuple[list[str], list[list]]:
    """SODRA_AVESTA_budget_2016H1.csv: the seed 002 table as reported, errors included."""
    header = ["År", "Period slut", "Typ", "Kostnadsslag", "Benämning", "Budget", "Utfall", "Differens", "Prognos"]
    rows = [
        ["2016", "2016-06-30", "Kostnad", "PERSONAL", "Personal", "1 775 000", "819 000", "955 000", "0"],
        ["2016", "2016-06-30", "Kostnad", "LOKALER", "Lokaler", "165 000", "88 000", "77 000", "-9 000"],
        ["2016", "2016-06-30", "Kostnad", "OVRIGT", "Övriga kostnader", "160 000", "81 000", "79 000", "+20 000"],
        ["2016", "2016-06-30", "Beviljat", "", "Beviljat av styrelsen", "2 000 000", "", "", ""],
        ["", "", "", "", "Summa", "2 100 000", "988 000", "1 111 000", "+11 000"],
    ]
    return header, rows


# --------------------------------------------------------------- the sample county

def _headers(columns: list[str], table: dict, style: int) -> list[str]:
    return [table[c][min(style, len(table[c]) - 1)] for c in columns]


def _period_ends(start: date) -> list[tuple[str, date]]:
    out = []
    for year in YEARS:
        for t in (1, 2, 3):
            end = tertial_end(year, t)
            previous = tertial_end(year, t - 1) if t > 1 else date(year - 1, 12, 31)
            if end >= start and previous < date(2017, 1, 1):
                out.append((f"{year}T{t}", end))
    return out


def registry_yaml() -> str:
    lines = ["# Registry of the county's samordningsförbund. Documented in README.",
             "# Generated by data/generate_sample.py (the sample county, Dalarna).",
             'county: {code: "20", name: Dalarnas län}',
             f"data_team_email: {TEAM_EMAIL}",
             "associations:"]
    for code, name, kommuner in ASSOCIATIONS:
        lines += [f"  - code: {code}",
                  f"    name: {name}",
                  '    county: "20"',
                  "    municipalities: [" + ", ".join(f'"{k}"' for k in kommuner) + "]",
                  f"    data_team_email: {TEAM_EMAIL}",
                  "    source: {type: folder}"]
    return "\n".join(lines) + "\n"


def _huvudman(kommun: str, style: int) -> str:
    return f"FK+AF+REGION+KOMMUN:{kommun}" if style == 0 else f"FK, AF, REGION, KOMMUN:{kommun}"


def generate_sample(out_dir: Path) -> None:
    """The sample county: data/sample/landing/<ASSOC>/... and registry.yml."""
    out_dir = Path(out_dir)
    landing = out_dir / "landing"
    rng = random.Random(SEED)
    used: set[str] = set()
    (out_dir).mkdir(parents=True, exist_ok=True)
    (out_dir / "registry.yml").write_text(registry_yaml(), encoding="utf-8")

    # persons who take part in two interventions of different associations (same personnummer)
    shared_ab = [make_pnr(rng, rng.randint(1988, 1996), used) for _ in range(6)]   # KRAFTEN + UNGVUXNA
    shared_cd = [make_pnr(rng, rng.randint(1960, 1990), used) for _ in range(6)]   # FRAMSTEG + JOBBNORR
    shared_ef = [make_pnr(rng, rng.randint(1988, 1996), used) for _ in range(4)]   # SATER + VAGEN
    shares = {"KRAFTEN": shared_ab, "UNGVUXNA": shared_ab, "FRAMSTEG": shared_cd, "JOBBNORR": shared_cd,
              "SATER": shared_ef, "VAGEN": shared_ef}
    kommuner_of = {code: k for code, _, k in ASSOCIATIONS}

    episodes: dict[str, list[Episode]] = {}
    for (code, assoc, _name, _inr, malgrupp, matmetod, start, *_rest, count) in INTERVENTIONS:
        if matmetod == "VOLYM":
            continue
        if code == "AVESTA":
            episodes[code] = avesta_episodes(rng, used)
        else:
            home = _rest[3]
            area = [home, home] + [k for k in kommuner_of[assoc] if k != home]
            episodes[code] = generic_episodes(rng, used, code, start, count, area, "UNGA" in malgrupp,
                                              shares.get(code, []))

    # ---- deltagare deliveries
    fmt_cycle = 0
    for n, (code, assoc, name, *_r) in enumerate(INTERVENTIONS):
        if code not in episodes:
            continue
        for k, (period, end) in enumerate(_period_ends(_r[3])):
            fmt = dict(CSV_FORMATS[(k + n) % len(CSV_FORMATS)])
            fmt_cycle += 1
            if code == "AVESTA":
                fmt = {"2015T2": CSV_FORMATS[0], "2015T3": CSV_FORMATS[2], "2016T1": CSV_FORMATS[1],
                       "2016T2": CSV_FORMATS[5], "2016T3": CSV_FORMATS[3]}[period]
            style = fmt_cycle % 3
            header = _headers(D_COLUMNS, D_HEADERS, style)
            title = None
            if fmt.get("title"):
                title = [f"Deltagarrapport {name}", f"Period {period}, t.o.m. {end.isoformat()}", ""]
                if code == "AVESTA":
                    title = [f"Deltagarrapport {name}", ""]
            rows = deltagare_rows(episodes[code], end, None if fmt["ext"] == "xlsx" else fmt["dates"])
            path = landing / assoc / f"{assoc}_{code}_deltagare_{period}.{fmt['ext']}"
            if code == "KRAFTEN" and period == "2016T3":   # faulty 1: one wrong Luhn check digit
                path = path.with_suffix(".csv")
                fmt = CSV_FORMATS[0]
                rows = deltagare_rows(episodes[code], end, "iso")
                target = next(i for i, r in enumerate(rows) if r[1] and len(r[1]) == 13 and i > 10)
                pnr = rows[target][1]
                rows[target][1] = pnr[:-1] + str((int(pnr[-1]) + 3) % 10)
            if code == "UNGVUXNA" and period == "2016T1":  # faulty 2: slut before start, reason not a code
                path = path.with_suffix(".xlsx")
                fmt = {"ext": "xlsx", "title": True}
                title = [f"Deltagarrapport {name}", ""]
                rows = deltagare_rows(episodes[code], end, None)
                ended = [i for i, r in enumerate(rows) if r[6] != ""]
                first, second = ended[3], ended[7]
                rows[first][6] = rows[first][5] - timedelta(days=14)
                rows[second][15] = "Semester"
            write_table(path, header, rows, {**fmt, "title": title, "sheet": "deltagare"})

    # ---- intervention budgets, every tertial (Avesta: the H1 report instead of 2016T2)
    for n, (code, assoc, *_r) in enumerate(INTERVENTIONS):
        start = _r[4]
        for k, (period, end) in enumerate(_period_ends(start)):
            path = landing / assoc / f"{assoc}_{code}_budget_{period}"
            if code == "AVESTA" and period == "2016T2":
                header, rows = avesta_budget_h1()
                write_csv(landing / assoc / "SODRA_AVESTA_budget_2016H1.csv", header, rows, sep=";")
                continue
            if code == "JOBBNORR" and period == "2016T2":  # faulty 3: a text file with an .xlsx name
                text = ("Budgetuppföljning Jobb i Norra Dalarna T2 2016\r\n"
                        "Personal;1 700 000;1 050 000\r\nLokaler;230 000;150 000\r\n")
                (path.with_suffix(".xlsx")).write_bytes(text.encode("cp1252"))
                continue
            total = INTERVENTION_TOTAL[code] + (0 if end.year == 2015 else 100_000)
            granted = total if (k % 3 == 2) else None
            if code == "AVESTA":
                total, granted = 2_100_000, 2_000_000
            as_xlsx = (n + k) % 4 == 1
            style = (n + k) % 2
            header = _headers(B_COLUMNS, B_HEADERS, style)
            if as_xlsx:
                rows = intervention_budget_rows(rng, end.year, end, total, granted=granted, decimal=False,
                                                nbsp=False, amounts_as_numbers=True)
                cost = [r for r in rows if r[2] == "KOSTNAD"]
                summa = ["", "", "", "", "", "Summa"] + [sum(r[c] for r in cost) for c in (6, 7, 8, 9)]
                write_xlsx(path.with_suffix(".xlsx"), header, rows + [summa], sheet="budget")
            else:
                rows = intervention_budget_rows(rng, end.year, end, total, granted=granted, decimal=(k % 3 == 1),
                                                nbsp=(n % 2 == 0), amounts_as_numbers=False)
                form = ["iso", "ymd8", "dmy"][(n + k) % 3]
                rows = [[r[0], fmt_date(r[1], form), *r[2:]] for r in rows]
                write_csv(path.with_suffix(".csv"), header, rows, sep=";",
                          encoding="cp1252" if (n + k) % 3 == 0 else "utf-8")

    # ---- association registers, funding/admin budgets, volym
    for a, (assoc, assoc_name, kommuner) in enumerate(ASSOCIATIONS):
        own = [i for i in INTERVENTIONS if i[1] == assoc]
        for k, (period, end) in enumerate(_period_ends(date(2015, 1, 1))):
            style = (a + k) % 2
            header = _headers(I_COLUMNS, I_HEADERS, style)
            rows = []
            for (code, _a, name, inr, malgrupp, matmetod, start, slut, platser, planerat, kommun, email, esf, _c) in own:
                rows.append([code, name, inr, malgrupp, matmetod, start, slut, platser, planerat,
                             _huvudman(kommun, a % 2), email, esf])
                if assoc == "MITT":
                    rows[-1] += TARGETS.get(code, [None, None, None])
            if assoc == "MITT":
                header += _headers(I_TARGET_COLUMNS, I_TARGET_HEADERS, style)
            if a == 1 and k % 2 == 0:
                fmt = {"ext": "xlsx", "title": [f"Insatsregister {assoc_name}", ""] if k == 0 else None,
                       "sheet": "insatser"}
                write_table(landing / assoc / f"{assoc}_ALL_insatser_{period}.xlsx", header, rows, fmt)
            else:
                form = ["iso", "ymd8", "ymd6", "dmy"][(a + k) % 4]
                rows = [[*r[:5], fmt_date(r[5], form), fmt_date(r[6], form), *r[7:]] for r in rows]
                write_csv(landing / assoc / f"{assoc}_ALL_insatser_{period}.csv", header, rows,
                          sep=";" if a != 2 else ",", encoding="utf-8-sig" if a == 2 else "utf-8")
            # funding and administration
            header = _headers(B_COLUMNS, B_HEADERS, 1 - style)
            region_share = 0.28 if (assoc == "MITT" and period == "2016T2") else 0.25
            total = ASSOC_TOTAL[assoc] + (0 if end.year == 2015 else 200_000)
            rows = association_budget_rows(end.year, end, total, kommuner, names=(assoc == "MITT"),
                                           region_share=region_share)
            rows = [[r[0], fmt_date(r[1], "iso" if a != 1 else "ymd8"), *r[2:]] for r in rows]
            write_csv(landing / assoc / f"{assoc}_ALL_budget_{period}.csv", header, rows, sep=";",
                      encoding="cp1252" if a == 2 else "utf-8")
        # the count-only structural intervention
        for (code, _a, name, inr, malgrupp, matmetod, start, *_r) in own:
            if matmetod != "VOLYM":
                continue
            for k, (period, end) in enumerate(_period_ends(start)):
                header = _headers(V_COLUMNS, V_HEADERS, k % 2)
                rows = [[end.year, fmt_date(end, "iso"), "K", rng.randint(8, 30)],
                        [end.year, fmt_date(end, "iso"), "M", rng.randint(3, 15)]]
                write_csv(landing / assoc / f"{assoc}_{code}_volym_{period}.csv", header, rows, sep=";")

    # a file that breaks the naming rule (reported, left in the drop folder)
    write_csv(landing / "NORR" / "NORR_Okand fil.csv", ["Namn", "Antal"], [["Jobb i Norra Dalarna", "12"]], sep=";")


# --------------------------------------------------------------- the Skellefteå reference (seed 000)

def generate_reference(out_dir: Path) -> None:
    """Arbetsmarknadstorget Skellefteå 2014: data/sample_reference/landing/SKEL/... and registry.yml."""
    out_dir = Path(out_dir)
    rng = random.Random(SEED + 24)
    used: set[str] = set()
    landing = out_dir / "landing" / "SKEL"
    landing.mkdir(parents=True, exist_ok=True)
    (out_dir / "registry.yml").write_text(
        "# Registry for the Skellefteå reference (seed 000). Generated by data/generate_sample.py.\n"
        'county: {code: "24", name: Västerbottens län}\n'
        "data_team_email: finsam-data@region-vasterbotten.example\n"
        "associations:\n"
        "  - code: SKEL\n"
        "    name: Samordningsförbundet Skellefteå\n"
        '    county: "24"\n'
        '    municipalities: ["2482"]\n'
        "    data_team_email: finsam-data@region-vasterbotten.example\n"
        "    source: {type: folder}\n", encoding="utf-8")
    # 100 leavers during 2014: 70 aged 16–23 (mean 11 months), 30 aged 24–29 (mean 16 months)
    fore = ["FBS"] * 38 + ["AKE"] * 20 + ["AKS"] * 17 + ["INGEN"] * 12 + ["AKS+FBS"] * 9 + ["CSN"] * 4
    efter = ["CSN"] * 21 + ["SUBV"] * 19 + ["AKE"] * 28 + ["FBS"] * 16 + ["LON"] * 9 + ["INGEN"] * 4 + ["AKS"] * 3
    edu = ["FORGYMNASIAL"] * 57 + ["GYMNASIAL"] * 43
    young_months = [11] * 30 + [9] * 10 + [13] * 10 + [8] * 5 + [14] * 5 + [6] * 5 + [16] * 5   # 70, sum 770
    old_months = [16] * 10 + [12] * 5 + [20] * 5 + [14] * 5 + [18] * 5                          # 30, sum 480
    assert len(young_months) == 70 and sum(young_months) == 770
    assert len(old_months) == 30 and sum(old_months) == 480
    for values in (fore, efter, edu):
        rng.shuffle(values)
    reason_of = {"CSN": "STUDIER", "SUBV": "SUBV_ARBETE", "AKE": "SJE_AKE", "LON": "ARBETE", "INGEN": "ANNAT",
                 "AKS": "ARBETSSOKANDE"}
    rows = []
    header = ["Löpnummer", "Personnummer", "Kön", "Födelseår", "Kommun", "Startdatum", "Slutdatum",
              "Remitterande aktör", "Försörjning vid start", "Försörjning vid avslut", "Sysselsättning före",
              "Sysselsättning efter", "Utbildningsnivå", "Tid i offentlig försörjning", "Avslutsorsak"]
    months = [(m, rng.randint(16, 23)) for m in young_months] + [(m, rng.randint(24, 29)) for m in old_months]
    rng.shuffle(months)
    for i in range(100):
        m, age = months[i]
        end = date(2014, 1, 1) + timedelta(days=rng.randint(0, 364))
        start = add_months(end, -m)
        birth = start.year - age
        pnr = make_pnr(rng, birth, used) if i % 4 else None
        e = efter[i]
        reason = reason_of.get(e) or rng.choice(["AVBROTT", "ARBETSSOKANDE", "FLYTT"])
        rows.append([f"AT-{i + 1:03d}" if pnr is None else "", pnr_text(pnr, "12") if pnr else "",
                     rng.choice("KM"), birth, "2482", start.isoformat(), end.isoformat(),
                     rng.choice(["AF", "AF", "KOMMUN", "KOMMUN", "FK"]), fore[i], e,
                     "ARBETSSOKANDE", REASON_SYSS[reason], edu[i], rng.choice(["<1", "1-2", "2-5"]), reason])
    # 100 still active at 2014-12-31 (education 57/43 too: all 200 participants are 57 % / 43 %)
    edu_active = ["FORGYMNASIAL"] * 57 + ["GYMNASIAL"] * 43
    rng.shuffle(edu_active)
    for i in range(100):
        start = date(2013, 6, 1) + timedelta(days=rng.randint(0, 578))
        birth = start.year - rng.randint(16, 29)
        pnr = make_pnr(rng, birth, used) if i % 4 else None
        rows.append([f"AT-{101 + i:03d}" if pnr is None else "", pnr_text(pnr, "10") if pnr else "",
                     rng.choice("KM"), birth, "2482", start.isoformat(), "",
                     rng.choice(["AF", "KOMMUN", "FK"]), rng.choice(["FBS", "AKE", "AKS", "INGEN", "AKS+FBS", "CSN"]),
                     "", "ARBETSSOKANDE", "", edu_active[i], rng.choice(["<1", "1-2", "2-5"]), ""])
    rows.sort(key=lambda r: (r[5], r[0], r[1]))
    write_csv(landing / "SKEL_ATORG_deltagare_2014.csv", header, rows, sep=";")
    write_csv(landing / "SKEL_ALL_insatser_2014.csv", _headers(I_COLUMNS, I_HEADERS, 1),
              [["ATORG", "Arbetsmarknadstorget", "INDIVID", "UNGA_16_29", "PERSON", "2012-01-01", "",
                "60", "200", "FK+AF+REGION+KOMMUN:2482", "arbetsmarknadstorget@skelleftea.example", "Nej"]], sep=";")
    write_csv(landing / "SKEL_ATORG_budget_2014.csv", _headers(B_COLUMNS, B_HEADERS, 1), [
        ["2014", "2014-12-31", "Kostnad", "PERSONAL", "", "Personal", "420 000", "402 500", "17 500", "0"],
        ["2014", "2014-12-31", "Kostnad", "LOKALER", "", "Lokaler", "60 000", "60 000", "0", "0"],
        ["2014", "2014-12-31", "Kostnad", "OVRIGT", "", "Övriga kostnader", "70 000", "66 250,50", "3 749,50", "0"],
        ["2014", "2014-12-31", "Beviljat", "", "", "Beviljat av styrelsen 2014-07-01 – 2014-12-31", "550 000",
         "", "", ""],
    ], sep=";")


# --------------------------------------------------------------- national scale (benchmark)

def generate_national(out_dir: Path, associations: int = 75, interventions: int = 600, years: int = 10,
                      start_year: int = 2015, fraction: float = 1.0, episodes: int | None = None) -> dict:
    """National-scale deliveries (vectorised): ~500 000 participant-episode rows at fraction 1.0.

    `episodes` sets the number of participant episodes outright (instead of from `fraction`): e.g.
    `generate_national(out, associations=2, interventions=20, years=2, episodes=115)` is a county of
    many small interventions (3–15 participants each), the disclosure attacker's second county.

    One `deltagare` delivery per person-level intervention and year (period YYYY) listing the
    episodes active at some time in that year, exit fields filled once exited; one register
    and one funding budget per association and year, one cost budget per intervention and year.
    About one delivery in 12 is written as .xlsx, the rest as CSV (UTF-8, `;`).
    """
    import numpy as np
    import pandas as pd

    out_dir = Path(out_dir)
    landing = out_dir / "landing"
    gen = np.random.default_rng(SEED)
    n_assoc = max(1, round(associations * fraction))
    n_int = max(n_assoc, round(interventions * fraction))
    target_rows = int(500_000 * fraction)

    munis = pd.read_csv(REPO / "dbt_project" / "seeds" / "municipalities.csv", dtype=str)
    codes = munis["kommunkod"].str.zfill(4).tolist()
    per_assoc = np.array_split(np.arange(len(codes)), n_assoc)
    assoc_codes = [f"FS{i + 1:03d}" for i in range(n_assoc)]
    assoc_munis = [[codes[j] for j in part] or [codes[i % len(codes)]] for i, part in enumerate(per_assoc)]

    lines = ["# National-scale benchmark registry. Generated by data/generate_sample.py.",
             'county: {code: "00", name: Sverige (benchmark)}',
             "data_team_email: finsam-data@benchmark.example", "associations:"]
    for code, ms in zip(assoc_codes, assoc_munis):
        lines += [f"  - code: {code}", f"    name: Samordningsförbund {code}", f'    county: "{ms[0][:2]}"',
                  "    municipalities: [" + ", ".join(f'"{m}"' for m in ms) + "]",
                  "    data_team_email: finsam-data@benchmark.example", "    source: {type: folder}"]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "registry.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    # interventions
    int_assoc = np.arange(n_int) % n_assoc
    is_volume = gen.random(n_int) < 0.15
    person_ints = np.flatnonzero(~is_volume)
    years_list = list(range(start_year, start_year + years))
    first_day = np.datetime64(f"{start_year}-01-01")
    last_day = np.datetime64(f"{start_year + years - 1}-12-31")
    span = int((last_day - first_day).astype(int))

    # episodes: each spans ~1.45 calendar years on average -> rows ≈ 1.45 × episodes
    n_ep = int(target_rows / 1.45) if episodes is None else episodes
    ep_int = person_ints[gen.integers(0, len(person_ints), n_ep)]
    start = first_day + gen.integers(0, span - 20, n_ep).astype("timedelta64[D]")
    stay = np.where(gen.random(n_ep) < 0.2, gen.integers(20, 60, n_ep), gen.integers(90, 420, n_ep))
    end = start + stay.astype("timedelta64[D]")
    ended = end <= last_day
    kon = np.where(gen.random(n_ep) < 0.53, "K", "M")
    start_year_arr = start.astype("datetime64[Y]").astype(int) + 1970
    birth = start_year_arr - gen.integers(18, 65, n_ep)
    # Luhn-valid personnummer, vectorised
    doy = gen.integers(0, 365, n_ep)
    born = (birth - 1970).astype("datetime64[Y]").astype("datetime64[D]") + doy.astype("timedelta64[D]")
    born_s = pd.Series(born).dt.strftime("%Y%m%d").to_numpy(dtype=str)
    serial = gen.integers(0, 1000, n_ep)
    nine = (pd.Series(born_s).str[2:] + pd.Series(serial).astype(str).str.zfill(3)).to_numpy(dtype=str)
    digits = (np.frombuffer("".join(nine).encode("ascii"), dtype=np.uint8).reshape(-1, 9) - 48).astype(int)
    prod = digits * np.array([2, 1, 2, 1, 2, 1, 2, 1, 2])
    check = (10 - (prod - 9 * (prod > 9)).sum(axis=1) % 10) % 10
    pnr = (pd.Series(born_s) + "-" + pd.Series(nine).str[6:] + pd.Series(check).astype(str)).to_numpy(dtype=object)
    anonymous = gen.random(n_ep) < 0.04
    reasons = np.array(["ARBETE", "STUDIER", "REHAB", "SJE_AKE", "AVBROTT", "ARBETSSOKANDE", "ANNAT", "SUBV_ARBETE"])
    reason = reasons[gen.integers(0, len(reasons), n_ep)]
    reason = np.where(stay < 60, "AVBROTT", reason)
    fore_codes = np.array(["FBS", "SJP", "AKE", "AKS", "AKS+FBS", "AKASSA", "INGEN", "SJE"])
    fore = fore_codes[gen.integers(0, len(fore_codes), n_ep)]
    efter_of = {"ARBETE": "LON", "STUDIER": "CSN", "REHAB": "SJP", "SJE_AKE": "SJE", "AVBROTT": "FBS",
                "ARBETSSOKANDE": "AKS", "ANNAT": "INGEN", "SUBV_ARBETE": "SUBV"}
    efter = pd.Series(reason).map(efter_of).to_numpy(dtype=object)
    syss_efter = pd.Series(reason).map(REASON_SYSS).to_numpy(dtype=object)
    remit = np.array(["KOMMUN", "FK", "AF", "REGION", "EGEN"])[gen.integers(0, 5, n_ep)]
    kommun = np.array([assoc_munis[int_assoc[i]][0] for i in range(n_int)])[ep_int]
    mkom = gen.integers(0, 8, n_ep)
    kommun_alt = np.array([assoc_munis[int_assoc[i]][-1] for i in range(n_int)])[ep_int]
    kommun = np.where(mkom == 0, kommun_alt, kommun)
    utb = np.array(["FORGYMNASIAL", "GYMNASIAL", "EFTERGYMNASIAL", "OKAND"])[gen.integers(0, 4, n_ep)]
    start_s = pd.Series(start).dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    end_s = pd.Series(end).dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    end_year = end.astype("datetime64[Y]").astype(int) + 1970

    base = pd.DataFrame({
        "deltagar_id": np.where(anonymous, "", ""), "personnummer": np.where(anonymous, "", pnr),
        "kon": kon, "fodelsear": birth, "kommun": kommun, "startdatum": start_s, "slutdatum": end_s,
        "remittent": remit, "forsorjning_fore": fore, "forsorjning_efter": efter,
        "sysselsattning_fore": "ARBETSSOKANDE", "sysselsattning_efter": syss_efter, "utbildning": utb,
        "avslutsanledning": reason, "anonym": np.where(anonymous, "Ja", "Nej"),
    })
    ep_end_year = np.where(ended, end_year, start_year + years)
    counts = {"files": 0, "rows": 0, "episodes": n_ep, "xlsx_files": 0, "associations": n_assoc,
              "interventions": n_int}
    exit_cols = ["slutdatum", "forsorjning_efter", "sysselsattning_efter", "avslutsanledning"]
    for year in years_list:
        in_year = (start_year_arr <= year) & (ep_end_year >= year)
        idx = np.flatnonzero(in_year)
        order = idx[np.argsort(ep_int[idx], kind="stable")]
        groups = np.split(order, np.flatnonzero(np.diff(ep_int[order])) + 1) if len(order) else []
        for group in groups:
            i = int(ep_int[group[0]])
            assoc = assoc_codes[int_assoc[i]]
            frame = base.iloc[group].copy()
            not_yet = ~(ended[group] & (end_year[group] <= year))
            frame.loc[not_yet, exit_cols] = ""
            name = f"{assoc}_I{i + 1:04d}_deltagare_{year}"
            folder = landing / assoc
            folder.mkdir(parents=True, exist_ok=True)
            if (i + year) % 12 == 0:
                write_xlsx(folder / f"{name}.xlsx", list(frame.columns), frame.values.tolist(), sheet="deltagare")
                counts["xlsx_files"] += 1
            else:
                frame.to_csv(folder / f"{name}.csv", sep=";", index=False, lineterminator="\n")
            counts["files"] += 1
            counts["rows"] += len(frame)
    # registers, budgets, volym
    for a, assoc in enumerate(assoc_codes):
        folder = landing / assoc
        folder.mkdir(parents=True, exist_ok=True)
        own = np.flatnonzero(int_assoc == a)
        ms = assoc_munis[a]
        for year in years_list:
            reg = [[f"I{i + 1:04d}", f"Insats {i + 1}", "STRUKTUR" if is_volume[i] else "INDIVID", "ALLA_16_64",
                    "VOLYM" if is_volume[i] else "PERSON", f"{start_year}-01-01", "", 20, 40,
                    f"FK+AF+REGION+KOMMUN:{ms[0]}", f"insats{i + 1}@{assoc.lower()}.example", "Nej"] for i in own]
            write_csv(folder / f"{assoc}_ALL_insatser_{year}.csv", I_COLUMNS, reg)
            total = 4_000_000 + 400_000 * len(own)
            end = date(year, 12, 31)
            rows = _national_funding(year, end, total, ms)
            rows = [[r[0], r[1].isoformat(), *r[2:]] for r in rows]
            write_csv(folder / f"{assoc}_ALL_budget_{year}.csv", B_COLUMNS, rows)
            counts["files"] += 2
            for i in own:
                if is_volume[i]:
                    write_csv(folder / f"{assoc}_I{i + 1:04d}_volym_{year}.csv", V_COLUMNS,
                              [[year, end.isoformat(), "K", 10 + i % 7], [year, end.isoformat(), "M", 5 + i % 5]])
                budget = 1_000_000 + 10_000 * (i % 50)
                lines = [[year, end.isoformat(), "KOSTNAD", kind, "", text, sek(b), sek(b * 0.95), sek(b - round(b * 0.95)), "0"]
                         for kind, text, b in (("PERSONAL", "Personal", int(budget * 0.8)),
                                               ("LOKALER", "Lokaler", int(budget * 0.1)),
                                               ("OVRIGT", "Övrigt", budget - int(budget * 0.8) - int(budget * 0.1)))]
                write_csv(folder / f"{assoc}_I{i + 1:04d}_budget_{year}.csv", B_COLUMNS, lines)
                counts["files"] += 1 + int(is_volume[i])
    return counts


def _national_funding(year: int, end: date, total: int, kommuner: list[str]) -> list[list]:
    state, region = total // 2, total // 4
    municipal = total - state - region
    per = [municipal // len(kommuner)] * len(kommuner)
    per[0] += municipal - sum(per)
    rows = [[year, end, "FINANSIERING", "", "STAT", "Stat", sek(state), sek(state), "", ""],
            [year, end, "FINANSIERING", "", "REGION", "Region", sek(region), sek(region), "", ""]]
    rows += [[year, end, "FINANSIERING", "", f"KOMMUN:{k}", f"Kommun {k}", sek(p), sek(p), "", ""]
             for k, p in zip(kommuner, per)]
    rows.append([year, end, "BEVILJAT", "", "", "Beviljat", sek(total), "", "", ""])
    return rows


# --------------------------------------------------------------- CLI

def _clean(folder: Path) -> None:
    import shutil

    if folder.exists():
        shutil.rmtree(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="output folder (default data/sample, or bench/out/national)")
    parser.add_argument("--scale", choices=["sample", "national"], default="sample")
    parser.add_argument("--associations", type=int, default=75)
    parser.add_argument("--interventions", type=int, default=600)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--start-year", type=int, default=2015)
    parser.add_argument("--fraction", type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.scale == "national":
        out = Path(args.out or REPO / "bench" / "out" / "national")
        _clean(out / "landing")
        print(generate_national(out, args.associations, args.interventions, args.years, args.start_year,
                                args.fraction))
        return 0
    if args.out:
        out = Path(args.out)
        _clean(out / "landing")
        generate_sample(out)
        return 0
    sample = REPO / "data" / "sample"
    reference = REPO / "data" / "sample_reference"
    _clean(sample / "landing")
    _clean(reference / "landing")
    generate_sample(sample)
    generate_reference(reference)
    (REPO / "config").mkdir(exist_ok=True)
    (REPO / "config" / "registry.yml").write_text(registry_yaml(), encoding="utf-8")
    print(f"wrote {sample}, {reference} and config/registry.yml")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
