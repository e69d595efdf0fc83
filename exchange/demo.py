"""A demonstration exchange programme, loaded into an empty ledger.

"We" are the Central Scientific Library of the Azerbaijan National Academy of Sciences
(AMEA Mərkəzi Elmi Kitabxanası) in Baku: the home library is not an institution row, it
is the one keeping the ledger. Its partners are seven foreign libraries and two at home.
Shipments run from early 2024 to November 2026, both ways, and between them reach every
state of both machines (exchange.states), so that every list, filter, history and
report has something real to show.

Everything goes through the service layer, as a coordinator's requests would: every
object gets its audit trail, and the services' rules hold for the demo as for real work
(no customs data for a domestic partner, no dispatch of an empty parcel, no transition
dated before the state it leaves). Transitions are backdated with `at`, so a shipment
counts in the year it was really dispatched or received. Creation cannot be backdated:
each object's created_at, and every event of the audit trail, carry the time of loading.

The classics are real works; their editions, the modern monographs and the authors of
those are invented, and so are the ISBNs: their check digits are computed, so they are
valid, but they are not the numbers of real editions (one may match an unrelated book).
Postal tracking numbers follow the UPU S10 pattern, check digit included.
"""

# The Cyrillic in the tables is data: an all-capital abbreviation (Belarus's academy,
# BAN's department) or a volume's "T." means Cyrillic letters, not Latin look-alikes.
# ruff: noqa: RUF001

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session
from stdnum import ean, isbn

from libfed.accounts.contacts import create_contact
from libfed.accounts.institutions import create_institution
from libfed.accounts.models import Institution
from libfed.kernel.callers import SYSTEM
from libfed.kernel.db import Database

from .agreements import create_agreement
from .items import add_item, update_item
from .models import Shipment
from .shipments import create_shipment, transition

OUT, IN = "outgoing", "incoming"
# Every backdated transition happens at this time of its day (13:00 in Baku).
TIME_OF_DAY = "T09:00:00Z"

# ------------------------------------------------------------------ partners

# fmt: off
# Key -> the institution as POST /institutions takes it. The name is in English, the
# partner's own names (and ours for it, in Azerbaijani) are in other_names.
PARTNERS: dict[str, dict] = {
    "TR": {
        "name": "National Library of Turkey",
        "other_names": {"tr": "Millî Kütüphane Başkanlığı", "az": "Türkiyə Milli Kitabxanası"},
        "kind": "national_library",
        "country": "TR",
        "city": "Ankara",
        "postal_address": "Bahçelievler Mahallesi, Dumlupınar Bulvarı No: 4\n06490 Çankaya / Ankara",
        "phone": "+90 312 470 83 00",
        "letter_language": "en",
    },
    "BAN": {
        "name": "Library of the Russian Academy of Sciences",
        "other_names": {
            "ru": "Библиотека Российской академии наук",
            "az": "Rusiya Elmlər Akademiyasının Kitabxanası",
        },
        "kind": "academic_library",
        "country": "RU",
        "city": "Saint Petersburg",
        "postal_address": "Биржевая линия, д. 1\nСанкт-Петербург\n199034",
        "phone": "+7 812 328-35-92",
        "letter_language": "ru",
        "notes": "Known as BAN (БАН).",
    },
    "SBB": {
        # A research library, not Germany's national library (that is the DNB).
        "name": "Berlin State Library",
        "other_names": {
            "de": "Staatsbibliothek zu Berlin – Preußischer Kulturbesitz",
            "az": "Berlin Dövlət Kitabxanası",
        },
        "kind": "academic_library",
        "country": "DE",
        "city": "Berlin",
        "isil": "DE-1",
        "postal_address": "Unter den Linden 8\n10117 Berlin",
        "phone": "+49 30 266-0",
        "letter_language": "en",
    },
    "BNF": {
        "name": "National Library of France",
        "other_names": {"fr": "Bibliothèque nationale de France", "az": "Fransa Milli Kitabxanası"},
        "kind": "national_library",
        "country": "FR",
        "city": "Paris",
        "postal_address": "Quai François Mauriac\n75706 Paris Cedex 13",
        "letter_language": "en",
    },
    "BY": {
        "name": "Yakub Kolas Central Scientific Library of the National Academy of Sciences of Belarus",
        "other_names": {
            "be": "Цэнтральная навуковая бібліятэка імя Якуба Коласа НАН Беларусі",
            "ru": "Центральная научная библиотека имени Якуба Коласа НАН Беларуси",
            "az": "Belarus MEA-nın Yakub Kolas adına Mərkəzi Elmi Kitabxanası",
        },
        "kind": "academic_library",
        "country": "BY",
        "city": "Minsk",
        "postal_address": "ул. Сурганова, 15\n220072 Минск",
        "phone": "+375 17 284-14-28",
        "letter_language": "ru",
    },
    "BG": {
        "name": "Central Library of the Bulgarian Academy of Sciences",
        "other_names": {
            "bg": "Централна библиотека на Българската академия на науките",
            "az": "Bolqarıstan Elmlər Akademiyasının Mərkəzi Kitabxanası",
        },
        "kind": "academic_library",
        "country": "BG",
        "city": "Sofia",
        "postal_address": "ул. „15 ноември“ 1\n1040 София",
        "letter_language": "en",
    },
    "NDL": {
        "name": "National Diet Library",
        "other_names": {
            "ja": "国立国会図書館",
            "ja-Latn": "Kokuritsu Kokkai Toshokan",
            "az": "Yaponiya Milli Parlament Kitabxanası",
        },
        "kind": "national_library",
        "country": "JP",
        "city": "Tokyo",
        "postal_address": "1-10-1 Nagatacho, Chiyoda-ku\nTokyo 100-8924",
        "letter_language": "en",
    },
    "BSU": {
        "name": "Baku State University Library",
        "other_names": {"az": "Bakı Dövlət Universitetinin Elmi Kitabxanası"},
        "kind": "university",
        "country": "AZ",
        "city": "Baku",
        "postal_address": "Akademik Zahid Xəlilov küçəsi 33\nAZ1148 Bakı",
        "phone": "+994 12 539 05 35",
        "letter_language": "az",
    },
    "LAHIC": {
        "name": "Lahıc Village Secondary School",
        "other_names": {"az": "Lahıc kənd tam orta məktəbi"},
        "kind": "school",
        "country": "AZ",
        "city": "Lahıc",
        "postal_address": "Lahıc kəndi\nAZ3122 İsmayıllı rayonu",
        "letter_language": "az",
        "notes": "İsmayıllı district. Its library receives our duplicates and children's books.",
    },
}

# (partner, contact person as POST /institutions/<id>/contacts takes it): whom we write to.
CONTACTS: list[tuple[str, dict]] = [
    ("BAN", {"name": "Ольга Николаевна Смирнова", "position": "Отдел международного книгообмена",
             "email": "exchange@ban.example.org", "phone": "+7 812 328-35-92"}),
    ("BAN", {"name": "Игорь Петрович Васильев", "position": "Отдел комплектования"}),
    ("TR", {"name": "Ayşe Demir", "position": "Uluslararası Yayın Değişimi",
            "email": "degisim@mkutup.example.org"}),
    ("BSU", {"name": "Leyla Məmmədova", "position": "Kitab mübadiləsi üzrə mütəxəssis",
             "phone": "+994 12 539 05 35"}),
]

# (partner, agreement as POST /agreements takes it, less partner_id). A partner's
# shipments are made under the last agreement listed for it.
AGREEMENTS: list[tuple[str, dict]] = [
    ("BAN", {"basis": "copy_for_copy", "start_date": "2019-01-01", "end_date": "2022-12-31",
             "annual_quota": 60}),
    ("BY", {"basis": "copy_for_copy", "start_date": "2019-05-20", "annual_quota": 50}),
    ("BG", {"basis": "copy_for_copy", "start_date": "2020-02-10", "annual_quota": 30}),
    ("SBB", {"basis": "value_for_value", "start_date": "2020-06-01",
             "notes": "Values compared each December, each side in its own currency."}),
    ("TR", {"basis": "copy_for_copy", "start_date": "2021-03-15", "annual_quota": 30}),
    ("BNF", {"basis": "copy_for_copy", "start_date": "2022-09-01", "annual_quota": 4,
             "notes": "Four titles a year each way, as the partner's budget allows."}),
    ("BAN", {"basis": "value_for_value", "start_date": "2023-01-01",
             "notes": "Replaces the copy-for-copy agreement of 2019."}),
    ("NDL", {"basis": "gift", "start_date": "2024-04-01", "end_date": "2027-03-31",
             "notes": "Japanese fiscal years 2024 to 2026; renewal to be discussed in 2026."}),
]

# fmt: on

# ------------------------------------------------------------------ books


def _isbn(stem: str) -> str:
    """The ISBN-13 that starts with the twelve digits of `stem`: the check digit (that of
    an EAN-13) is computed, not typed, so no number in the tables can be invalid."""
    digits = stem.replace("-", "")
    return isbn.format(digits + ean.calc_check_digit(digits))


def _book(
    title: str, author: str | None, stem: str | None, year: int, language: str, price: str | None
) -> dict:
    """An item as POST /shipments/{id}/items takes it, less copies; `price` is e.g.
    "12.50 AZN", or None for a publication given without a value."""
    book: dict = {"title": title, "year": year, "language": language}
    if author:
        book["author"] = author
    if stem:
        book["isbn"] = _isbn(stem)
    if price:
        book["unit_value"], book["currency"] = price.split()
    return book


# fmt: off
# title, author, first twelve digits of the ISBN, year, language, unit value
BOOKS: dict[str, dict] = {
    # Ours (Baku, mostly Elm): what we send.
    "az_tarix1": _book("Azərbaycan tarixi. Yeddi cilddə. I cild", None, "978-9952-20-401", 2023, "aze", "28.00 AZN"),
    "az_xamsa": _book("Xəmsə", "Nizami Gəncəvi", "978-9952-20-402", 2021, "aze", "35.00 AZN"),
    "az_fuzuli": _book("Leyli və Məcnun", "Füzuli, Məhəmməd", "978-9952-20-403", 2024, "aze", "12.00 AZN"),
    "az_mirze": _book("Seçilmiş əsərləri. İki cilddə. I cild", "Məmmədquluzadə, Cəlil", "978-9952-20-404", 2022, "aze", "15.00 AZN"),
    "az_sabir": _book("Hophopnamə", "Sabir, Mirzə Ələkbər", "978-9952-20-405", 2023, "aze", "14.00 AZN"),
    "az_cavid": _book("Şeyx Sənan", "Cavid, Hüseyn", "978-9952-20-406", 2022, "aze", "9.50 AZN"),
    "az_luget": _book("Azərbaycan dilinin izahlı lüğəti. I cild", None, "978-9952-20-407", 2021, "aze", "30.00 AZN"),
    "az_qobustan": _book("Qobustan qayaüstü təsvirləri", "Əliyeva, Rəna", "978-9952-20-408", 2024, "aze", "22.00 AZN"),
    "az_sirvan": _book("Şirvanşahlar dövlətinin tarixi", "Qasımov, Elnur", "978-9952-20-409", 2025, "aze", "18.00 AZN"),
    "az_lahic": _book("Lahıc: sənətkarlıq ənənələri", "Həsənova, Aysel", "978-9952-20-410", 2025, "aze", "16.00 AZN"),
    "az_xalca": _book("Azərbaycan xalçaları", "Məmmədov, Tural", "978-9952-20-411", 2023, "aze", "40.00 AZN"),
    "az_neft": _book("Bakı neft sənayesinin tarixi (1846–1920)", "Quliyev, Fərid", "978-9952-20-412", 2024, "aze", "20.00 AZN"),
    "az_xezer": _book("Xəzər dənizinin ekologiyası", "Rzayev, Kamran", "978-9952-20-413", 2025, "aze", "17.00 AZN"),
    "az_qorqud": _book("Kitabi-Dədə Qorqud", None, "978-9952-20-414", 2024, "aze", "10.00 AZN"),
    "az_axund": _book("Komediyalar", "Axundzadə, Mirzə Fətəli", "978-9952-20-415", 2026, "aze", "11.00 AZN"),
    "az_elyazma": _book("Ərəbqrafikalı əlyazmalar kataloqu. III cild", None, "978-9952-20-416", 2026, "aze", "25.00 AZN"),
    "bk_rukop": _book("Азербайджанские рукописи в собраниях Баку", "Гасанова, Лейла", "978-9952-20-417", 2024, "rus", "18.00 AZN"),
    "bk_slovar": _book("Русско-азербайджанский словарь", None, "978-9952-20-418", 2023, "rus", "22.00 AZN"),
    # Children's books for the school.
    "az_nagil": _book("Azərbaycan nağılları", None, "978-9952-453-12", 2024, "aze", "6.00 AZN"),
    "az_molla": _book("Molla Nəsrəddin lətifələri", None, "978-9952-453-13", 2023, "aze", "5.00 AZN"),
    "az_saiq": _book("Uşaq şeirləri", "Şaiq, Abdulla", "978-9952-453-14", 2025, "aze", "4.50 AZN"),
    "az_ensik": _book("Uşaq ensiklopediyası: Azərbaycanın təbiəti", "Nəbiyeva, Leyla", "978-9952-453-15", 2025, "aze", "12.00 AZN"),
    "az_atlas": _book("Azərbaycanın coğrafiya atlası", None, "978-9952-453-16", 2024, "aze", "8.00 AZN"),
    # Baku State University.
    "bdu_edeb": _book("Azərbaycan ədəbiyyatı tarixi", "Əhmədova, Səbinə", "978-9952-8123-4", 2025, "aze", "14.00 AZN"),
    "bdu_riyazi": _book("Riyazi analiz. Dərslik", "Nəsirov, Orxan", "978-9952-8123-5", 2024, "aze", "12.00 AZN"),
    # Saint Petersburg.
    "ru_onegin": _book("Евгений Онегин. Роман в стихах", "Пушкин, Александр Сергеевич", "978-5-02-040123", 2024, "rus", "650.00 RUB"),
    "ru_geroi": _book("Герой нашего времени", "Лермонтов, Михаил Юрьевич", "978-5-02-040124", 2023, "rus", "480.00 RUB"),
    "ru_opis": _book("Описание Рукописного отдела Библиотеки Российской академии наук. Т. 12", None, "978-5-86007-912", 2024, "rus", "1800.00 RUB"),
    "ru_vostok": _book("Восточные рукописи в собраниях Санкт-Петербурга", "Соколова, Ирина", "978-5-86007-913", 2025, "rus", "1200.00 RUB"),
    "ru_akad": _book("История Академии наук в документах, 1724–1803", "Орлов, Павел", "978-5-02-040125", 2024, "rus", "1500.00 RUB"),
    "ru_kavkaz": _book("Кавказ в русской картографии XVIII–XIX веков", "Белов, Андрей", "978-5-02-040126", 2025, "rus", "2200.00 RUB"),
    "ru_slovar": _book("Словарь русского языка XVIII века. Вып. 23", None, "978-5-02-040127", 2022, "rus", "950.00 RUB"),
    "ru_lomon": _book("Избранные труды", "Ломоносов, Михаил Васильевич", "978-5-02-040128", 2025, "rus", "1100.00 RUB"),
    "ru_grafika": _book("Петербургская книжная графика начала XX века", "Морозова, Елена", "978-5-86007-914", 2026, "rus", "1700.00 RUB"),
    "ru_nizami": _book("Низами в переводах русских поэтов", "Зайцева, Наталья", "978-5-02-040129", 2026, "rus", "900.00 RUB"),
    # Ankara.
    "tr_yunus": _book("Yunus Emre Divanı", "Yunus Emre", "978-975-16-4012", 2021, "tur", "280.00 TRY"),
    "tr_evliya": _book("Evliya Çelebi Seyahatnâmesi. 2. Kitap", "Evliya Çelebi", "978-975-16-4013", 2023, "tur", "450.00 TRY"),
    "tr_arsiv": _book("Osmanlı Arşiv Belgelerinde Azerbaycan", "Karaca, Ayşe", "978-975-16-4014", 2024, "tur", "320.00 TRY"),
    "tr_kafkas": _book("Kafkasya Tarihi Üzerine İncelemeler", "Doğan, Hasan", "978-605-7654-12", 2025, "tur", "390.00 TRY"),
    "tr_halk": _book("Türk Halk Edebiyatı Ansiklopedisi. Cilt 1", None, "978-975-16-4015", 2022, "tur", "600.00 TRY"),
    "tr_hoca": _book("Nasreddin Hoca Fıkraları", None, "978-605-7654-13", 2024, "tur", "150.00 TRY"),
    "tr_dede": _book("Dede Korkut Hikâyeleri", None, "978-605-7654-14", 2025, "tur", "220.00 TRY"),
    "tr_mimari": _book("Anadolu Selçuklu Mimarisi", "Aksoy, Zeynep", "978-975-16-4016", 2026, "tur", "750.00 TRY"),
    # Berlin.
    "de_divan": _book("West-östlicher Divan", "Goethe, Johann Wolfgang von", "978-3-15-019012", 2024, "ger", "12.00 EUR"),
    "de_kaukasus": _book("Die Kaukasusforschung in Deutschland 1850–1914", "Weber, Katharina", "978-3-447-12012", 2023, "ger", "78.00 EUR"),
    "de_aserb": _book("Aserbaidschan: Geschichte und Gegenwart", "Richter, Thomas", "978-3-447-12013", 2025, "ger", "34.00 EUR"),
    "de_turk": _book("Einführung in die Turkologie", "Krüger, Martin", "978-3-447-12014", 2024, "ger", "49.00 EUR"),
    "de_kosmos": _book("Kosmos. Entwurf einer physischen Weltbeschreibung", "Humboldt, Alexander von", "978-3-11-061234", 2022, "ger", "45.00 EUR"),
    # Paris.
    "fr_dumas": _book("Le Caucase", "Dumas, Alexandre", "978-2-07-301234", 2023, "fre", "11.50 EUR"),
    "fr_caucase": _book("Le Caucase : histoire et cultures", "Dubois, Claire", "978-2-271-14012", 2024, "fre", "29.00 EUR"),
    "fr_persans": _book("Les manuscrits persans : un catalogue raisonné", "Moreau, Julien", "978-2-271-14013", 2025, "fre", "65.00 EUR"),
    "fr_soie": _book("Les routes de la soie : échanges et savoirs", "Laurent, Hélène", "978-2-271-14014", 2022, "fre", "24.00 EUR"),
    "fr_rapport": _book("Bibliothèque nationale de France : rapport d'activité 2024", None, None, 2025, "fre", None),
    # Minsk.
    "by_kolas": _book("Новая зямля", "Колас, Якуб", "978-985-08-2901", 2022, "bel", "18.00 BYN"),
    "by_kupala": _book("Выбраныя творы", "Купала, Янка", "978-985-08-2902", 2024, "bel", "22.00 BYN"),
    "by_hist": _book("Гісторыя Беларусі. У шасці тамах. Т. 1", None, "978-985-08-2903", 2023, "bel", "45.00 BYN"),
    "by_bibl": _book("Научные библиотеки Беларуси: история и современность", "Ковалёва, Ольга", "978-985-08-2904", 2025, "rus", "28.00 BYN"),
    "by_skorina": _book("Франциск Скорина и его время", "Новиков, Сергей", "978-985-08-2905", 2024, "rus", "32.00 BYN"),
    # Sofia. Even the 2024 and 2025 books are valued in euro (leva at the fixed 1.95583): the
    # lev (BGN) left ISO 4217 when Bulgaria took the euro in 2026, and the ledger checks
    # currencies against the current list only.
    "bg_vazov": _book("Под игото", "Вазов, Иван", "978-954-322-981", 2023, "bul", "9.20 EUR"),
    "bg_hist": _book("История на България. Том 1", None, "978-954-322-982", 2024, "bul", "20.45 EUR"),
    "bg_etym": _book("Български етимологичен речник. Том 9", None, "978-954-322-983", 2022, "bul", "17.90 EUR"),
    "bg_kavkaz": _book("Кавказ и Балканите: културни връзки", "Петрова, Мария", "978-954-322-984", 2025, "bul", "12.27 EUR"),
    "bg_botev": _book("Стихотворения", "Ботев, Христо", "978-954-322-985", 2026, "bul", "9.00 EUR"),
    "bg_rakop": _book("Славянски ръкописи в чужди сбирки", "Стоянов, Николай", "978-954-322-986", 2026, "bul", "22.00 EUR"),
    # Tokyo.
    "jp_kokoro": _book("こころ", "夏目, 漱石", "978-4-00-061234", 2024, "jpn", "990.00 JPY"),
    "jp_genji": _book("源氏物語 一", "紫式部", "978-4-00-061235", 2023, "jpn", "1320.00 JPY"),
    "jp_kavkaz": _book("コーカサスの歴史と文化", "佐藤, 健一", "978-4-00-061236", 2025, "jpn", "4800.00 JPY"),
    "jp_tosho": _book("日本の図書館史", "中村, 美穂", "978-4-00-061237", 2024, "jpn", "3520.00 JPY"),
    "jp_rashomon": _book("羅生門・鼻", "芥川, 龍之介", "978-4-00-061238", 2022, "jpn", "660.00 JPY"),
    "jp_nenpo": _book("国立国会図書館年報 令和6年度", None, None, 2025, "jpn", None),
}

# fmt: on

# ------------------------------------------------------------------ shipments


@dataclass(frozen=True)
class Planned:
    """A shipment as it happened: its details, its items and the states it went through.

    `steps` are "state YYYY-MM-DD", optionally followed by the transition's note.
    `items` are (book, copies), or (book, copies, copies that actually arrived).
    """

    partner: str
    direction: str
    reference: str | None
    carrier: str | None
    tracking_number: str | None
    parcels: int | None
    weight_kg: str | None
    postage: str | None  # "38.50 AZN"
    steps: tuple[str, ...] = ()
    items: tuple[tuple, ...] = ()
    notes: str | None = None
    # Incoming: the day the partner said it would arrive (YYYY-MM-DD).
    expected_by: str | None = None


# fmt: off
EMS, MBAG, PARCEL = "Azərpoçt (EMS)", "Azərpoçt (M bag)", "Azərpoçt"
HAND = "hand delivery"

# partner, direction, reference, carrier, tracking number, parcels, weight (kg), postage
SHIPMENTS: list[Planned] = [
    # ---- 2024
    Planned("BAN", OUT, "MEK-EX/2024/02", EMS, "EE048712359AZ", 1, "6.800", "38.50 AZN",
            ("packed 2024-02-12", "dispatched 2024-02-14", "delivered 2024-03-11", "acknowledged 2024-03-26"),
            (("az_tarix1", 2), ("az_xamsa", 2), ("az_luget", 1), ("bk_rukop", 2))),
    Planned("TR", OUT, "MEK-EX/2024/05", MBAG, "RR115204731AZ", 1, "7.200", "21.00 AZN",
            ("packed 2024-04-02", "dispatched 2024-04-05", "delivered 2024-04-22", "acknowledged 2024-05-14"),
            (("az_fuzuli", 2), ("az_mirze", 2), ("az_cavid", 2), ("az_qorqud", 1))),
    Planned("BY", OUT, "MEK-EX/2024/09", MBAG, "RR115208910AZ", 1, "5.900", "18.60 AZN",
            ("packed 2024-06-17", "dispatched 2024-06-19", "delivered 2024-07-15"),
            (("az_tarix1", 1), ("az_sabir", 2), ("bk_slovar", 2), ("az_luget", 1)),
            notes="No acknowledgement yet; reminder sent on 1 October 2024."),
    Planned("BG", OUT, "MEK-EX/2024/14", MBAG, "RR115233066AZ", 1, "4.700", "16.20 AZN",
            ("packed 2024-09-09", "dispatched 2024-09-10",
             "lost 2024-12-20 Declared lost by Azərpoçt after a CN 08 enquiry; compensation claimed."),
            (("az_xalca", 1), ("az_neft", 2), ("az_qobustan", 2))),
    Planned("BSU", OUT, "MEK-EX/2024/16", PARCEL, "CP300844172AZ", 2, "9.600", "6.40 AZN",
            ("packed 2024-10-01", "dispatched 2024-10-02", "delivered 2024-10-03", "acknowledged 2024-10-10"),
            (("az_luget", 3), ("az_tarix1", 3))),
    Planned("SBB", OUT, "MEK-EX/2024/17", "DHL Express", "4817265930", 1, "4.300", "142.00 AZN",
            ("packed 2024-10-21", "dispatched 2024-10-22", "delivered 2024-10-25", "acknowledged 2024-11-12"),
            (("az_xamsa", 1), ("az_qobustan", 1), ("az_neft", 1), ("az_xalca", 1), ("bk_rukop", 1))),
    Planned("BAN", IN, "БАН-ОКО 2024/11", "Почта России (EMS)", "EA217345085RU", 1, "5.100", None,
            ("received 2024-04-08", "accessioned 2024-04-22"),
            (("ru_opis", 1), ("ru_akad", 1), ("ru_slovar", 1), ("ru_geroi", 2))),
    Planned("TR", IN, "MK-UDM 2024/37", "PTT", "RR409183721TR", 1, "4.400", None,
            ("received 2024-05-27", "accessioned 2024-06-10"),
            (("tr_yunus", 2), ("tr_halk", 1), ("tr_evliya", 1), ("tr_hoca", 2))),
    Planned("BY", IN, "ЦНБ-МКО 2024/21", "Белпочта", "RR602734155BY", 1, "3.200", None,
            ("received 2024-09-16", "accessioned 2024-10-01"),
            (("by_kolas", 2), ("by_hist", 1), ("by_skorina", 1))),
    Planned("SBB", IN, "SBB-TA 2024-0412", "DHL Express", "7390256148", 1, "3.900", None,
            ("received 2024-11-26", "accessioned 2024-12-09"),
            (("de_kosmos", 1), ("de_kaukasus", 1), ("de_turk", 1), ("de_divan", 2))),
    # ---- 2025
    Planned("BAN", OUT, "MEK-EX/2025/02", EMS, "EE053128701AZ", 1, "6.100", "41.00 AZN",
            ("packed 2025-02-10", "dispatched 2025-02-12", "delivered 2025-03-06", "acknowledged 2025-03-27"),
            (("az_neft", 2), ("az_qobustan", 2), ("az_sirvan", 2), ("az_cavid", 1))),
    Planned("TR", OUT, "MEK-EX/2025/04", MBAG, "RR120445182AZ", 1, "6.500", "22.50 AZN",
            ("packed 2025-03-03", "dispatched 2025-03-04", "delivered 2025-03-21", "acknowledged 2025-04-09"),
            (("az_sabir", 2), ("az_xalca", 1), ("az_lahic", 2), ("az_neft", 1))),
    Planned("SBB", OUT, "MEK-EX/2025/07", "DHL Express", "5530918264", 1, "3.300", "138.00 AZN",
            ("packed 2025-05-12", "dispatched 2025-05-13", "delivered 2025-05-16"),
            (("az_sirvan", 1), ("az_lahic", 1), ("az_xezer", 1), ("bk_slovar", 1))),
    Planned("BG", OUT, "MEK-EX/2025/08", EMS, "EE055190635AZ", 1, "4.900", "36.80 AZN",
            ("packed 2025-05-19", "dispatched 2025-05-20", "delivered 2025-06-10", "acknowledged 2025-06-30"),
            (("az_neft", 1), ("az_qobustan", 1), ("az_xalca", 1), ("az_lahic", 2)),
            notes="Replaces the consignment lost in 2024 (MEK-EX/2024/14)."),
    Planned("BNF", OUT, "MEK-EX/2025/09", EMS, "EE056301426AZ", 1, "5.000", "44.00 AZN",
            ("packed 2025-06-02", "dispatched 2025-06-04", "delivered 2025-06-19", "acknowledged 2025-07-08"),
            (("az_xamsa", 2), ("az_fuzuli", 2), ("az_qorqud", 2))),
    Planned("BY", OUT, "MEK-EX/2025/11", MBAG, "RR123917751AZ", 1, "4.100", "15.90 AZN",
            ("packed 2025-07-14", "dispatched 2025-07-15",
             "returned 2025-09-02 Returned by Belpochta: department missing from the address."),
            (("az_sirvan", 2), ("az_xezer", 2), ("az_qorqud", 1))),
    Planned("LAHIC", OUT, "MEK-EX/2025/13", PARCEL, "CP311772091AZ", 3, "14.500", "9.80 AZN",
            ("packed 2025-09-01", "dispatched 2025-09-03", "delivered 2025-09-10", "acknowledged 2025-09-15"),
            (("az_nagil", 10), ("az_molla", 10), ("az_saiq", 10), ("az_ensik", 5), ("az_atlas", 5)),
            notes="A gift for the school library, for the start of the school year."),
    Planned("BY", OUT, "MEK-EX/2025/14", MBAG, "RR126700348AZ", 1, "4.100", "15.90 AZN",
            ("packed 2025-09-15", "dispatched 2025-09-16", "delivered 2025-10-09", "acknowledged 2025-10-30"),
            (("az_sirvan", 2), ("az_xezer", 2), ("az_qorqud", 1)),
            notes="The returned MEK-EX/2025/11 sent again, with the full address."),
    Planned("NDL", OUT, "MEK-EX/2025/15", EMS, "EE061204585AZ", 1, "3.800", "58.00 AZN",
            ("packed 2025-10-06", "dispatched 2025-10-08", "delivered 2025-10-17"),
            (("az_xamsa", 1), ("az_xalca", 1), ("az_qobustan", 1), ("az_lahic", 1))),
    Planned("BSU", OUT, "MEK-EX/2025/17", HAND, None, 1, "5.200", None,
            ("packed 2025-11-10", "dispatched 2025-11-11", "delivered 2025-11-12"),
            (("az_sirvan", 2), ("az_xezer", 2), ("az_lahic", 2))),
    Planned("BAN", IN, "БАН-ОКО 2025/06", "Почта России (EMS)", "EA229014770RU", 1, "4.600", None,
            ("received 2025-03-17", "accessioned 2025-04-01"),
            (("ru_onegin", 2), ("ru_vostok", 1), ("ru_kavkaz", 1), ("ru_lomon", 1))),
    Planned("BY", IN, "ЦНБ-МКО 2025/08", "Белпочта", "RR605881201BY", 1, "2.800", None,
            ("received 2025-04-21", "accessioned 2025-05-06"),
            (("by_kupala", 2), ("by_bibl", 1), ("by_skorina", 1))),
    Planned("BG", IN, "ЦБ-БАН 2025/19", "Български пощи", "RR903172548BG", 1, "3.600", None,
            ("received 2025-06-23", "accessioned 2025-07-07"),
            (("bg_vazov", 1), ("bg_hist", 1), ("bg_etym", 1), ("bg_kavkaz", 2))),
    Planned("NDL", IN, "NDL-IE 2025-031", "Japan Post (EMS)", "EJ503188462JP", 1, "3.100", None,
            ("received 2025-07-14", "accessioned 2025-08-04"),
            (("jp_kokoro", 1), ("jp_genji", 1), ("jp_kavkaz", 1), ("jp_tosho", 1), ("jp_nenpo", 1))),
    Planned("BNF", IN, "BnF-ECH 2025/118", "La Poste (Colissimo)", "CP730519283FR", 1, "2.700", None,
            ("received 2025-09-22", "accessioned 2025-10-13"),
            (("fr_dumas", 1), ("fr_caucase", 1), ("fr_soie", 1), ("fr_rapport", 1))),
    Planned("TR", IN, "MK-UDM 2025/52", "PTT", "CP412365097TR", 2, "5.300", None,
            ("received 2025-10-20",),
            (("tr_arsiv", 3), ("tr_kafkas", 3, 2), ("tr_dede", 2), ("tr_hoca", 1)),
            notes="Parcel 2 of 2 arrived torn open. Claim sent to the partner; accession waits."),
    Planned("BSU", IN, "BDU-EK 2025/04", HAND, None, 1, "4.000", None,
            ("received 2025-11-04", "accessioned 2025-11-11"),
            (("bdu_edeb", 3), ("bdu_riyazi", 2))),
    Planned("SBB", IN, "SBB-TA 2025-0577", "DHL Express", "8145902637", 1, "2.900", None,
            ("received 2025-12-15", "accessioned 2026-01-19"),
            (("de_aserb", 2), ("de_turk", 1), ("de_kaukasus", 1))),
    # ---- 2026
    Planned("SBB", OUT, "MEK-EX/2026/03", "DHL Express", "6204739185", 1, "2.600", "151.00 AZN",
            ("packed 2026-03-16", "dispatched 2026-03-17", "delivered 2026-03-20", "acknowledged 2026-04-07"),
            (("az_axund", 1), ("az_elyazma", 1), ("az_luget", 1))),
    Planned("BAN", OUT, "MEK-EX/2026/05", EMS, None, 1, "2.400", None,
            ("packed 2026-05-11",
             "cancelled 2026-05-20 The partner already holds these volumes (duplicates found on checking)."),
            (("az_tarix1", 1), ("az_luget", 1))),
    Planned("TR", OUT, "MEK-EX/2026/07", MBAG, "RR130188262AZ", 1, "3.400", "24.00 AZN",
            ("packed 2026-06-01", "dispatched 2026-06-03", "delivered 2026-06-18"),
            (("az_axund", 2), ("az_elyazma", 1), ("az_sirvan", 1))),
    Planned("BNF", OUT, "MEK-EX/2026/10", EMS, "EE070119639AZ", 1, "3.700", "46.50 AZN",
            ("packed 2026-09-07", "dispatched 2026-09-09", "delivered 2026-09-25"),
            (("az_sirvan", 1), ("az_xezer", 1), ("az_axund", 1), ("az_elyazma", 1))),
    Planned("BAN", OUT, "MEK-EX/2026/12", EMS, "EE072453195AZ", 1, "5.300", "43.00 AZN",
            ("packed 2026-11-09", "dispatched 2026-11-10"),
            (("az_axund", 2), ("az_elyazma", 1), ("az_xezer", 2), ("az_lahic", 1))),
    Planned("BG", OUT, "MEK-EX/2026/13", EMS, None, 1, "3.900", None,
            ("packed 2026-11-18",),
            (("az_axund", 2), ("az_elyazma", 1), ("az_xezer", 1)),
            notes="Waiting for the courier."),
    Planned("NDL", OUT, "MEK-EX/2026/14", None, None, None, None, None,
            (),
            (("az_axund", 1), ("az_elyazma", 1), ("az_sirvan", 1)),
            notes="Selection in progress."),
    Planned("BY", OUT, "MEK-EX/2026/01", None, None, None, None, None,
            ("cancelled 2026-02-16 Opened in error: the partner asked for one spring consignment.",)),
    Planned("BG", IN, "ЦБ-БАН 2026/07", "Български пощи", "RR906884012BG", 1, "1.400", None,
            ("received 2026-05-11", "accessioned 2026-05-25"),
            (("bg_botev", 2), ("bg_rakop", 1))),
    Planned("TR", IN, "MK-UDM 2026/09", None, None, None, None, None,
            ("cancelled 2026-03-02 The partner withdrew the title: out of print.",),
            (("tr_mimari", 2),)),
    Planned("BAN", IN, "БАН-ОКО 2026/23", "Почта России (EMS)", "EA245103867RU", 1, "3.500", None,
            ("received 2026-11-16",),
            (("ru_grafika", 1), ("ru_nizami", 2), ("ru_vostok", 1)), expected_by="2026-11-20"),
    Planned("NDL", IN, "NDL-IE 2026-027", "Japan Post (EMS)", "EJ517702134JP", 1, "1.200", None,
            (),
            (("jp_rashomon", 2), ("jp_tosho", 1)),
            notes="Announced by the partner on 12 November 2026: due by the end of the month.",
            expected_by="2026-11-30"),
]

# fmt: on

# ------------------------------------------------------------------ the loader


def load_exchange_demo(db: Database, home_country: str) -> str | None:
    """Load the programme in one transaction (all of it or nothing) and say what it made.

    Returns None, touching nothing, when the ledger already has shipments: the demo must
    not mix with real work, nor be loaded twice. `home_country` decides, as in the API,
    which partners are domestic and so get no customs data.
    """
    with db.write() as session:
        if session.scalar(select(func.count()).select_from(Shipment)):
            return None
        partners = {key: _partner(session, data, home_country) for key, data in PARTNERS.items()}
        for key, contact in CONTACTS:
            create_contact(session, partners[key].id, contact, actor=SYSTEM)
        agreement_of: dict[str, int] = {}
        for key, data in AGREEMENTS:
            agreement = create_agreement(
                session, data | {"partner_id": partners[key].id}, actor=SYSTEM
            )
            agreement_of[key] = agreement.id
        items = sum(
            _shipment(
                session, plan, partners[plan.partner], agreement_of.get(plan.partner), home_country
            )
            for plan in SHIPMENTS
        )
    return (
        f"{len(PARTNERS)} partners, {len(AGREEMENTS)} agreements, "
        f"{len(SHIPMENTS)} shipments, {items} items"
    )


def _partner(session: Session, data: dict, home_country: str) -> Institution:
    """The partner, or the institution a coordinator already entered for it (same ISIL, or
    same name and country): a second row would split its ledger in two."""
    same = (
        Institution.isil == data["isil"]
        if "isil" in data
        else and_(Institution.name == data["name"], Institution.country == data["country"])
    )
    found = session.scalar(select(Institution).where(same).order_by(Institution.id).limit(1))
    return found or create_institution(session, data, actor=SYSTEM, home_country=home_country)


def _shipment(
    session: Session,
    plan: Planned,
    partner: Institution,
    agreement_id: int | None,
    home_country: str,
) -> int:
    """Create one shipment with its items and walk it through its states; what arrived
    short is recorded once it is received, as whoever opens the parcel would. Returns the
    number of items."""
    lines = [
        (BOOKS[key], copies, arrived[0] if arrived else None)
        for key, copies, *arrived in plan.items
    ]
    fields: dict = {
        "direction": plan.direction,
        "partner_id": partner.id,
        "agreement_id": agreement_id,
        "reference": plan.reference,
        "carrier": plan.carrier,
        "tracking_number": plan.tracking_number,
        "parcels": plan.parcels,
        "weight_kg": plan.weight_kg,
        "notes": plan.notes,
        "expected_by": plan.expected_by,
    }
    if plan.postage:
        fields["postage_cost"], fields["postage_currency"] = plan.postage.split()
    if partner.country != home_country:
        fields |= _customs(lines)
    shipment = create_shipment(session, fields, actor=SYSTEM, home_country=home_country)
    added = [
        (add_item(session, shipment.id, book | {"copies": copies}, actor=SYSTEM), copies, arrived)
        for book, copies, arrived in lines
    ]
    for step in plan.steps:
        state, day, *note = step.split(" ", 2)
        transition(
            session,
            shipment.id,
            {"to": state, "at": day + TIME_OF_DAY, "note": note[0] if note else None},
            actor=SYSTEM,
            expected_version=None,
        )
        if state != "received":
            continue
        for item, copies, arrived in added:
            if arrived is not None:
                missing = f"{copies - arrived} of {copies} copies missing on arrival."
                update_item(
                    session,
                    shipment.id,
                    item.id,
                    {"received_copies": arrived, "notes": missing},
                    actor=SYSTEM,
                    expected_version=None,
                )
    return len(added)


def _customs(lines: list[tuple]) -> dict:
    """The CN 23 data of a parcel of books: a gift of printed books (HS 4901.99) declared
    at the value of its items, which in these tables are in one currency per shipment."""
    valued = [
        (Decimal(book["unit_value"]) * copies, book["currency"])
        for book, copies, _arrived in lines
        if "unit_value" in book
    ]
    if not valued:
        return {}
    (currency,) = {currency for _, currency in valued}
    return {
        "customs_content_type": "gift",
        "customs_hs_code": "4901.99",
        "customs_declared_value": f"{sum(value for value, _ in valued):.2f}",
        "customs_currency": currency,
    }
