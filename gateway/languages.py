"""Home languages: the DfE language codes (CBDS D00011) used in CTF and MIS exports, mapped to BCP 47 tags.

The DfE code set is the authority (``../shared/reference/cbds_codesets.json``: 322 codes, main codes and
four-letter sub-codes). DfE codes are not ISO codes: ``KIR`` is Kirundi (``rn``), not Kyrgyz (that is
``KGZ``); ``TGE`` is Tigre and ``TGR`` Tigrinya; Hungarian is ``HGR``, Latvian ``LTV``, Sinhala ``SNH``. So a
three- or four-letter code is looked up here and nowhere else: an unknown one is a warning (English is used)
and is never guessed as an ISO code.

Every code in the set has an answer:
- a BCP 47 tag for the language itself (``ACL`` -> ``ach``), whether or not we have a catalog for it:
  rendering writes in English when there is none, and says so (``gateway.rendering.resolve_locale``);
- or, for a code that names no single language (``NOT`` information not obtained, ``REF`` refused, ``OTH``,
  ``KAR`` Karen (any), ...), English with the reason (:data:`DFE_NO_SINGLE_LANGUAGE`).

Sub-codes of one written language map to it (``ITAN`` Napoletan -> ``it``, ``BNGS`` Sylheti readers read
Bengali -> ``bn``); sub-codes that are different written languages keep their own tag (``KURS`` Sorani ->
``ckb``, ``KURM`` Kurmanji -> ``kmr``, ``PRST`` Tajik -> ``tg``).

Script matters more than language name: Mirpuri and Pothwari Panjabi families (``PNJM``, ``PNJP``, and
``PHR`` Pahari (Pakistan), the same Pothwari-Mirpuri speech) and the tags ``pa-Arab`` / ``pa-PK`` read
Shahmukhi, the Urdu script, not the Gurmukhi of our ``pa`` catalog. They are written to in Urdu until a
Shahmukhi catalog exists (:data:`SCRIPT_ROUTES`, :func:`language_note` says why).
"""

from __future__ import annotations

import re
from typing import Final

from babel import Locale, UnknownLocaleError

DEFAULT_LOCALE: Final = "en-GB"

# DfE code -> (BCP 47 tag written in, English name as the DfE publishes it). Generated from CBDS D00011 and
# checked against it by tests/importing/test_dfe_code_sets.py.
DFE_LANGUAGES: Final[dict[str, tuple[str, str]]] = {
    "ACL": ("ach", "Acholi"),
    "ADA": ("ada", "Adangme"),
    "AFA": ("aa", "Afar-Saho"),
    "AFK": ("af", "Afrikaans"),
    "AKA": ("ak", "Akan/Twi-Fante"),
    "AKAF": ("ak", "Akan (Fante)"),
    "AKAT": ("ak", "Akan (Twi/Asante)"),
    "ALB": ("sq", "Albanian/Shqip"),
    "ALU": ("alz", "Alur"),
    "AMR": ("am", "Amharic"),
    "ARA": ("ar", "Arabic"),
    "ARAA": ("ar", "Arabic (Any Other)"),
    "ARAG": ("ar", "Arabic (Algeria)"),
    "ARAI": ("ar", "Arabic (Iraq)"),
    "ARAM": ("ar", "Arabic (Morocco)"),
    "ARAS": ("ar", "Arabic (Sudan)"),
    "ARAY": ("ar", "Arabic (Yemen)"),
    "ARM": ("hy", "Armenian"),
    "ASM": ("as", "Assamese"),
    "ASR": ("aii", "Assyrian/Aramaic"),
    "AYB": ("any", "Anyi-Baule"),
    "AYM": ("ay", "Aymara"),
    "AZE": ("az", "Azeri"),
    "BAL": ("bal", "Balochi"),
    "BEJ": ("bej", "Beja/Bedawi"),
    "BEL": ("be", "Belarusian"),
    "BEM": ("bem", "Bemba"),
    "BHO": ("bho", "Bhojpuri"),
    "BIK": ("bik", "Bikol"),
    "BLT": ("bft", "Balti Tibetan"),
    "BMA": ("my", "Burmese/Myanma"),
    "BNG": ("bn", "Bengali"),
    "BNGA": ("bn", "Bengali (Any Other)"),
    "BNGC": ("bn", "Bengali (Chittagong/Noakhali)"),
    "BNGS": ("bn", "Bengali (Sylheti)"),
    "BSL": ("bfi", "British Sign Language"),
    "BSQ": ("eu", "Basque/Euskara"),
    "BUL": ("bg", "Bulgarian"),
    "CAM": ("km", "Cambodian/Khmer"),
    "CAT": ("ca", "Catalan"),
    "CCE": ("cpe", "Caribbean Creole English"),
    "CCF": ("cpf", "Caribbean Creole French"),
    "CGR": ("hne", "Chattisgarhi/Khatahi"),
    "CHE": ("ce", "Chechen"),
    "CHI": ("zh", "Chinese"),
    "CHIA": ("zh", "Chinese (Any Other)"),
    "CHIC": ("zh", "Chinese (Cantonese)"),
    "CHIH": ("zh", "Chinese (Hokkien/Fujianese)"),
    "CHIK": ("zh", "Chinese (Hakka)"),
    "CHIM": ("zh", "Chinese (Mandarin/Putonghua)"),
    "CKW": ("cjk", "Chokwe"),
    "CRN": ("kw", "Cornish"),
    "CTR": ("khw", "Chitrali/Khowar"),
    "CWA": ("ny", "Chichewa/Nyanja"),
    "CYM": ("cy", "Welsh/Cymraeg"),
    "CZE": ("cs", "Czech"),
    "DAN": ("da", "Danish"),
    "DGA": ("dga", "Dagaare"),
    "DGB": ("dag", "Dagbane"),
    "DIN": ("din", "Dinka/Jieng"),
    "DUT": ("nl", "Dutch/Flemish"),
    "DZO": ("dz", "Dzongkha/Bhutanese"),
    "EBI": ("igb", "Ebira"),
    "EDO": ("bin", "Edo/Bini"),
    "EFI": ("efi", "Efik-Ibibio"),
    "ENB": ("en-GB", "Believed to be English"),
    "ENG": ("en-GB", "English"),
    "ESA": ("ish", "Esan/Ishan"),
    "EST": ("et", "Estonian"),
    "EWE": ("ee", "Ewe"),
    "EWO": ("ewo", "Ewondo"),
    "FAN": ("fan", "Fang"),
    "FIJ": ("fj", "Fijian"),
    "FIN": ("fi", "Finnish"),
    "FON": ("fon", "Fon"),
    "FRN": ("fr", "French"),
    "FUL": ("ff", "Fula/Fulfulde-Pulaar"),
    "GAA": ("gaa", "Ga"),
    "GAE": ("ga", "Gaelic/Irish"),
    "GAL": ("gd", "Gaelic (Scotland)"),
    "GEO": ("ka", "Georgian"),
    "GER": ("de", "German"),
    "GGO": ("gog", "Gogo/Chigogo"),
    "GKY": ("ki", "Kikuyu/Gikuyu"),
    "GLG": ("gl", "Galician/Galego"),
    "GRE": ("el", "Greek"),
    "GREA": ("el", "Greek (Any Other)"),
    "GREC": ("el", "Greek (Cyprus)"),
    "GRN": ("gn", "Guarani"),
    "GUJ": ("gu", "Gujarati"),
    "GUN": ("gur", "Gurenne/Frafra"),
    "GUR": ("gux", "Gurma"),
    "HAU": ("ha", "Hausa"),
    "HDK": ("hno", "Hindko"),
    "HEB": ("he", "Hebrew"),
    "HER": ("hz", "Herero"),
    "HGR": ("hu", "Hungarian"),
    "HIN": ("hi", "Hindi"),
    "IBA": ("iba", "Iban"),
    "IDM": ("idu", "Idoma"),
    "IGA": ("igl", "Igala"),
    "IGB": ("ig", "Igbo"),
    "ILO": ("ilo", "Ilokano"),
    "ISK": ("its", "Itsekiri"),
    "ISL": ("is", "Icelandic"),
    "ITA": ("it", "Italian"),
    "ITAA": ("it", "Italian (Any Other)"),
    "ITAN": ("it", "Italian (Napoletan)"),
    "ITAS": ("it", "Italian (Sicilian)"),
    "JAV": ("jv", "Javanese"),
    "JIN": ("kac", "Jinghpaw/Kachin"),
    "JPN": ("ja", "Japanese"),
    "KAM": ("kam", "Kikamba"),
    "KAN": ("kn", "Kannada"),
    "KAS": ("ks", "Kashmiri"),
    "KAU": ("kr", "Kanuri"),
    "KAZ": ("kk", "Kazakh"),
    "KCH": ("kfr", "Katchi"),
    "KGZ": ("ky", "Kirghiz/Kyrgyz"),
    "KHA": ("kha", "Khasi"),
    "KHY": ("hay", "Kihaya/Luziba"),
    "KIN": ("rw", "Kinyarwanda"),
    "KIR": ("rn", "Kirundi"),
    "KIS": ("kss", "Kisi (West Africa)"),
    "KLN": ("kln", "Kalenjin"),
    "KMB": ("kmb", "Kimbundu"),
    "KME": ("mer", "Kimeru"),
    "KNK": ("kok", "Konkani"),
    "KNY": ("nyy", "Kinyakyusa-Ngonde"),
    "KON": ("kg", "Kikongo"),
    "KOR": ("ko", "Korean"),
    "KPE": ("kpe", "Kpelle"),
    "KRI": ("kri", "Krio"),
    "KSI": ("guz", "Kisii/Ekegusii (Kenya)"),
    "KSU": ("suk", "Kisukuma"),
    "KUR": ("ku", "Kurdish"),
    "KURA": ("ku", "Kurdish (Any Other)"),
    "KURM": ("kmr", "Kurdish (Kurmanji)"),
    "KURS": ("ckb", "Kurdish (Sorani)"),
    "LAO": ("lo", "Lao"),
    "LBAC": ("lua", "Luba (Chiluba/Tshiluba)"),
    "LBAK": ("lu", "Luba (Kiluba)"),
    "LGA": ("lg", "Luganda"),
    "LGB": ("lgg", "Lugbara"),
    "LGS": ("myx", "Lugisu/Lumasaba"),
    "LIN": ("ln", "Lingala"),
    "LIT": ("lt", "Lithuanian"),
    "LNG": ("laj", "Lango (Uganda)"),
    "LOZ": ("loz", "Lozi/Silozi"),
    "LSO": ("xog", "Lusoga"),
    "LTV": ("lv", "Latvian"),
    "LTZ": ("lb", "Luxemburgish"),
    "LUE": ("lue", "Luvale/Luena"),
    "LUN": ("lun", "Lunda"),
    "LUO": ("luo", "Luo (Kenya/Tanzania)"),
    "LUY": ("luy", "Luhya (Any)"),
    "MAG": ("mag", "Magahi"),
    "MAI": ("mai", "Maithili"),
    "MAK": ("vmw", "Makua"),
    "MAN": ("man", "Manding/Malinke"),
    "MANA": ("man", "Manding/Malinke (Any Other)"),
    "MANB": ("bm", "Bambara"),
    "MANJ": ("dyu", "Dyula/Jula"),
    "MAO": ("mi", "Maori"),
    "MAR": ("mr", "Marathi"),
    "MAS": ("mas", "Maasai"),
    "MDV": ("dv", "Maldivian/Dhivehi"),
    "MEN": ("men", "Mende"),
    "MKD": ("mk", "Macedonian"),
    "MLG": ("mg", "Malagasy"),
    "MLM": ("ml", "Malayalam"),
    "MLT": ("mt", "Maltese"),
    "MLY": ("ms", "Malay/Indonesian"),
    "MLYA": ("ms", "Malay (Any Other)"),
    "MLYI": ("id", "Indonesian/Bahasa Indonesia"),
    "MNA": ("mdh", "Magindanao-Maranao"),
    "MNG": ("mn", "Mongolian (Khalkha)"),
    "MNX": ("gv", "Manx Gaelic"),
    "MOR": ("mos", "Moore/Mossi"),
    "MSC": ("mfe", "Mauritian/Seychelles Creole"),
    "NAH": ("nah", "Nahuatl/Mexicano"),
    "NAM": ("naq", "Nama/Damara"),
    "NDBS": ("nr", "Ndebele (South Africa)"),
    "NDBZ": ("nd", "Ndebele (Zimbabwe)"),
    "NEP": ("ne", "Nepali"),
    "NOR": ("no", "Norwegian"),
    "NUE": ("nus", "Nuer/Naadh"),
    "NUP": ("nup", "Nupe"),
    "NWA": ("new", "Newari"),
    "NZM": ("nzi", "Nzema"),
    "OAMK": ("kj", "Ambo (Kwanyama)"),
    "OAMN": ("ng", "Ambo (Ndonga)"),
    "ORI": ("or", "Oriya"),
    "ORM": ("om", "Oromo"),
    "PAG": ("pag", "Pangasinan"),
    "PAM": ("pam", "Pampangan"),
    "PAT": ("ps", "Pashto/Pakhto"),
    "PHA": ("him", "Pahari/Himachali (India)"),
    "PHR": ("ur", "Pahari (Pakistan)"),
    "PNJ": ("pa", "Panjabi"),
    "PNJA": ("pa", "Panjabi (Any Other)"),
    "PNJG": ("pa", "Panjabi (Gurmukhi)"),
    "PNJM": ("ur", "Panjabi (Mirpuri)"),
    "PNJP": ("ur", "Panjabi (Pothwari)"),
    "POL": ("pl", "Polish"),
    "POR": ("pt", "Portuguese"),
    "PORA": ("pt", "Portuguese (Any Other)"),
    "PORB": ("pt-BR", "Portuguese (Brazil)"),
    "PRS": ("fa", "Persian/Farsi"),
    "PRSA": ("fa", "Farsi/Persian (Any Other)"),
    "PRSD": ("fa-AF", "Dari Persian"),
    "PRST": ("tg", "Tajiki Persian"),
    "QUE": ("qu", "Quechua"),
    "RAJ": ("raj", "Rajasthani/Marwari"),
    "RME": ("rme", "Romany/English Romanes"),
    "RMI": ("rom", "Romani (International)"),
    "RMN": ("ro", "Romanian"),
    "RMNM": ("ro-MD", "Romanian (Moldova)"),
    "RMNR": ("ro", "Romanian (Romania)"),
    "RMS": ("rm", "Romansch"),
    "RNYN": ("nyn", "Runyankore-Ruchiga"),
    "RNYO": ("nyo", "Runyoro-Rutooro"),
    "RUS": ("ru", "Russian"),
    "SAM": ("sm", "Samoan"),
    "SCB": ("sh", "Serbian/Croatian/Bosnian"),
    "SCBB": ("bs", "Bosnian"),
    "SCBC": ("hr", "Croatian"),
    "SCBS": ("sr", "Serbian"),
    "SCO": ("sco", "Scots"),
    "SHL": ("shk", "Shilluk/Cholo"),
    "SHO": ("sn", "Shona"),
    "SID": ("sid", "Sidamo"),
    "SIO": ("sgn", "Sign Language (Other)"),
    "SLO": ("sk", "Slovak"),
    "SLV": ("sl", "Slovenian"),
    "SND": ("sd", "Sindhi"),
    "SNG": ("sg", "Sango"),
    "SNH": ("si", "Sinhala"),
    "SOM": ("so", "Somali"),
    "SPA": ("es", "Spanish"),
    "SRD": ("sc", "Sardinian"),
    "SRK": ("skr", "Siraiki"),
    "SSO": ("st", "Sotho/Sesotho"),
    "SSOO": ("st", "Sotho/Sesotho (Southern)"),
    "SSOT": ("nso", "Sotho/Sesotho (Northern)"),
    "SSW": ("ss", "Swazi/Siswati"),
    "STS": ("tn", "Tswana/Setswana"),
    "SUN": ("su", "Sundanese"),
    "SWA": ("sw", "Swahili/Kiswahili"),
    "SWAA": ("sw", "Swahili (Any Other)"),
    "SWAC": ("sw", "Comorian Swahili"),
    "SWAK": ("sw", "Swahili (Kingwana)"),
    "SWAM": ("sw", "Swahili (Brava/Mwiini)"),
    "SWAT": ("sw", "Swahili (Bajuni/Tikuu)"),
    "SWE": ("sv", "Swedish"),
    "TAM": ("ta", "Tamil"),
    "TEL": ("te", "Telugu"),
    "TEM": ("tem", "Temne"),
    "TES": ("teo", "Teso/Ateso"),
    "TGE": ("tig", "Tigre"),
    "TGL": ("fil", "Tagalog/Filipino"),
    "TGLF": ("fil", "Filipino"),
    "TGLG": ("tl", "Tagalog"),
    "TGR": ("ti", "Tigrinya"),
    "THA": ("th", "Thai"),
    "TIB": ("bo", "Tibetan"),
    "TIV": ("tiv", "Tiv"),
    "TMZK": ("kab", "Berber/Tamazight (Kabyle)"),
    "TMZT": ("tmh", "Berber (Tamashek)"),
    "TNG": ("toi", "Tonga/Chitonga (Zambia)"),
    "TON": ("to", "Tongan (Oceania)"),
    "TPI": ("tpi", "Tok Pisin"),
    "TRI": ("sth", "Traveller Irish/Shelta"),
    "TSO": ("ts", "Tsonga"),
    "TUK": ("tk", "Turkmen"),
    "TUL": ("tcy", "Tulu"),
    "TUM": ("tum", "Tumbuka"),
    "TUR": ("tr", "Turkish"),
    "UKR": ("uk", "Ukrainian"),
    "UMB": ("umb", "Umbundu"),
    "URD": ("ur", "Urdu"),
    "URH": ("urh", "Urhobo-Isoko"),
    "UYG": ("ug", "Uyghur"),
    "UZB": ("uz", "Uzbek"),
    "VEN": ("ve", "Venda"),
    "VIE": ("vi", "Vietnamese"),
    "VSYH": ("hil", "Hiligaynon"),
    "VSYS": ("ceb", "Cebuano/Sugbuanon"),
    "VSYW": ("war", "Waray/Binisaya"),
    "WAP": ("prk", "Wa-Paraok (South-East Asia)"),
    "WCP": ("cpp", "West-African Creole Portuguese"),
    "WOL": ("wo", "Wolof"),
    "WPE": ("cpe", "West-African Pidgin English"),
    "XHO": ("xh", "Xhosa"),
    "YAO": ("yao", "Yao/Chiyao (East Africa)"),
    "YDI": ("yi", "Yiddish"),
    "YOR": ("yo", "Yoruba"),
    "ZND": ("zne", "Zande"),
    "ZUL": ("zu", "Zulu"),
}

# DfE codes that name no single language: English, with the reason as a warning.
_GROUP = "names a group of languages, not one"
DFE_NO_SINGLE_LANGUAGE: Final[dict[str, tuple[str, str]]] = {
    "BAI": ("Bamileke (Any)", _GROUP),
    "CGA": ("Chaga", _GROUP),
    "IJO": ("Ijo (Any)", _GROUP),
    "KAR": ("Karen (Any)", _GROUP),
    "KRU": ("Kru (Any)", _GROUP),
    "LBA": ("Luba", "Luba without saying which (Tshiluba LBAC or Kiluba LBAK)"),
    "MUN": ("Munda (Any)", _GROUP),
    "MYA": ("Maya (Any)", _GROUP),
    "NBN": ("Nubian (Any)", _GROUP),
    "NDB": ("Ndebele", "Ndebele without saying which (South Africa NDBS or Zimbabwe NDBZ)"),
    "NOT": ("Information not obtained", "information not obtained"),
    "OAM": ("Ambo/Oshiwambo", "Oshiwambo without saying which (Kwanyama OAMK or Ndonga OAMN)"),
    "OGN": ("Ogoni (Any)", _GROUP),
    "OTB": ("Believed to be Other than English", "believed to be other than English, language not named"),
    "OTH": ("Other than English", "other than English, language not named"),
    "OTL": ("Other Language", "other language, not named"),
    "REF": ("Refused", "refused"),
    "RNY": ("Runyakitara", "Runyakitara without saying which (Runyankore RNYN or Runyoro RNYO)"),
    "TMZ": ("Berber/Tamazight", _GROUP),
    "TMZA": ("Berber/Tamazight (Any Other)", _GROUP),
    "VSY": ("Visayan/Bisaya", _GROUP),
    "VSYA": ("Visayan/Bisaya (Any Other)", _GROUP),
    "ZZZ": ("Classification Pending", "classification pending"),
}
# Kept for callers of the earlier name.
DFE_NOT_A_LANGUAGE: Final[dict[str, str]] = {code: reason for code, (_name, reason) in DFE_NO_SINGLE_LANGUAGE.items()}

_SHAHMUKHI = "reads Shahmukhi (Urdu script), not Gurmukhi: written to in Urdu until a Shahmukhi catalog exists"
# DfE codes and BCP 47 tags written to in another language's script, and why.
SCRIPT_ROUTES: Final[dict[str, tuple[str, str]]] = {
    "PNJM": ("ur", f"Panjabi (Mirpuri) {_SHAHMUKHI}"),
    "PNJP": ("ur", f"Panjabi (Pothwari) {_SHAHMUKHI}"),
    "PHR": ("ur", f"Pahari (Pakistan) {_SHAHMUKHI}"),
    "pa-Arab": ("ur", f"Panjabi in Arabic script {_SHAHMUKHI}"),
    "pa-PK": ("ur", f"Panjabi (Pakistan) {_SHAHMUKHI}"),
    "pa-Arab-PK": ("ur", f"Panjabi in Arabic script {_SHAHMUKHI}"),
    "pnb": ("ur", f"Western Panjabi {_SHAHMUKHI}"),
}

# Older DfE codes and the codes that replaced them (DfE "Old-to-New Mapping"), for files from older systems.
# Only codes that are not current codes themselves: old MAN (Manx) is now Manding, old OTH is now a current code.
OLD_DFE_CODES: Final[dict[str, str]] = {
    "AMH": "AMR", "BEN": "BNG", "COR": "CRN", "CRE": "CCE", "CRF": "CCF", "FAR": "PRS", "FLE": "DUT",
    "FRE": "FRN", "GAI": "GAE", "GAS": "GAL", "JAP": "JPN", "LUG": "LGA", "PAN": "PNJ", "PAS": "PAT",
    "ROM": "RME", "SER": "SCB", "SIN": "SNH", "SYL": "BNGS", "TAG": "TGL", "WAL": "FRN", "WEL": "CYM",
}

_TABLE_TAGS: Final = frozenset(tag for tag, _name in DFE_LANGUAGES.values())
# A DfE code is 3 letters, or 4 for a sub-code; looked up before BCP 47 so "pol" means Polish (POL), too.
_DFE_CODE = re.compile(r"^[A-Za-z]{3,4}$")
_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


def current_dfe_code(value: str) -> str | None:
    """The current DfE code for ``value`` (a current code, or an old one the DfE mapped), else None."""
    code = value.strip().upper()
    if code in DFE_LANGUAGES or code in DFE_NO_SINGLE_LANGUAGE:
        return code
    return OLD_DFE_CODES.get(code)


def dfe_language_name(code: str) -> str | None:
    """The English name of a DfE language code, or None when the code is not in the DfE set."""
    current = current_dfe_code(code)
    if current is None:
        return None
    entry = DFE_LANGUAGES.get(current)
    return entry[1] if entry else DFE_NO_SINGLE_LANGUAGE[current][0]


def is_dfe_code(value: str) -> bool:
    """True when ``value`` is a DfE code (current or old), including the codes that name no language."""
    return current_dfe_code(value) is not None


def _canonical_tag(value: str) -> str | None:
    """The canonical form of a BCP 47 tag Babel or the DfE table knows (``pt-br`` -> ``pt-BR``), else None."""
    if not _TAG.match(value):
        return None
    if value in _TABLE_TAGS:
        return value
    try:
        locale = Locale.parse(value.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return value.lower() if value.lower() in _TABLE_TAGS else None
    parts = [locale.language]
    if locale.script:
        parts.append(locale.script)
    if locale.territory:
        parts.append(locale.territory)
    return "-".join(parts)


def _script_route(value: str) -> tuple[str, str] | None:
    """(locale written in, why) when ``value`` is written to in another language's script, else None."""
    code = current_dfe_code(value) if _DFE_CODE.match(value) else None
    if code is not None:
        return SCRIPT_ROUTES.get(code)
    tag = _canonical_tag(value)
    return SCRIPT_ROUTES.get(tag) if tag is not None else None


def language_note(code_or_tag: str | None) -> str | None:
    """Why messages for ``code_or_tag`` go in a language other than the one it names (Shahmukhi Panjabi is
    written to in Urdu), or None when they do not."""
    route = _script_route((code_or_tag or "").strip())
    return route[1] if route else None


def to_locale(code_or_tag: str | None) -> tuple[str, str | None]:
    """Map a DfE code (``POL``) or a BCP 47 tag (``pl``, ``pt-BR``) to ``(BCP 47 tag, warning or None)``.

    Never raises: an empty, unknown or malformed value gives ``("en-GB", "why")`` so the caller can report
    it as a warning and carry on. A three- or four-letter value that is not a DfE code is an ISO code only
    when written in lower case (``fil``); in capitals (``KIR``, ``HUN``) it is an unknown DfE code. A tag
    this table gives (``igb`` Ebira, ``gur`` Farefare) reads back as itself, not as a lower-case DfE code.
    """
    value = (code_or_tag or "").strip()
    if not value:
        return DEFAULT_LOCALE, None
    if value in _TABLE_TAGS and value not in SCRIPT_ROUTES:
        return value, None  # a tag this table gives (stored on an adult) reads back as itself: igb is Ebira
    if _DFE_CODE.match(value):
        code = current_dfe_code(value)
        if code in DFE_LANGUAGES:
            return DFE_LANGUAGES[code][0], None
        if code in DFE_NO_SINGLE_LANGUAGE:
            _name, reason = DFE_NO_SINGLE_LANGUAGE[code]
            return DEFAULT_LOCALE, f"language code {code} ({reason}): using {DEFAULT_LOCALE}"
        if not value.islower():
            return DEFAULT_LOCALE, (f"unknown DfE language code {value!r} (not in the DfE code set; never read "
                                    f"as an ISO code): using {DEFAULT_LOCALE}")
    route = _script_route(value)
    if route is not None:
        return route[0], None
    tag = _canonical_tag(value)
    if tag is not None:
        return tag, None
    return DEFAULT_LOCALE, f"unknown language code {value!r}: using {DEFAULT_LOCALE}"
