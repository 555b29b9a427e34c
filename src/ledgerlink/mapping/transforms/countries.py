"""Country names ⇄ ISO 3166-1 alpha-2 codes from a built-in table (names, alpha-3 codes and common variants)."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

from ledgerlink.mapping.context import TransformContext
from ledgerlink.mapping.errors import TransformError
from ledgerlink.mapping.transforms.registry import TransformFn, expect_mapping, register

# alpha-2, alpha-3, the name iso_to_country writes.
_TABLE = """
AD AND Andorra|AE ARE United Arab Emirates|AF AFG Afghanistan|AG ATG Antigua and Barbuda|AI AIA Anguilla|AL ALB Albania
AM ARM Armenia|AO AGO Angola|AQ ATA Antarctica|AR ARG Argentina|AS ASM American Samoa|AT AUT Austria|AU AUS Australia
AW ABW Aruba|AX ALA Åland Islands|AZ AZE Azerbaijan|BA BIH Bosnia and Herzegovina|BB BRB Barbados|BD BGD Bangladesh
BE BEL Belgium|BF BFA Burkina Faso|BG BGR Bulgaria|BH BHR Bahrain|BI BDI Burundi|BJ BEN Benin|BL BLM Saint Barthélemy
BM BMU Bermuda|BN BRN Brunei|BO BOL Bolivia|BQ BES Caribbean Netherlands|BR BRA Brazil|BS BHS Bahamas|BT BTN Bhutan
BV BVT Bouvet Island|BW BWA Botswana|BY BLR Belarus|BZ BLZ Belize|CA CAN Canada|CC CCK Cocos (Keeling) Islands
CD COD Democratic Republic of the Congo|CF CAF Central African Republic|CG COG Republic of the Congo|CH CHE Switzerland
CI CIV Côte d'Ivoire|CK COK Cook Islands|CL CHL Chile|CM CMR Cameroon|CN CHN China|CO COL Colombia|CR CRI Costa Rica
CU CUB Cuba|CV CPV Cape Verde|CW CUW Curaçao|CX CXR Christmas Island|CY CYP Cyprus|CZ CZE Czechia|DE DEU Germany
DJ DJI Djibouti|DK DNK Denmark|DM DMA Dominica|DO DOM Dominican Republic|DZ DZA Algeria|EC ECU Ecuador|EE EST Estonia
EG EGY Egypt|EH ESH Western Sahara|ER ERI Eritrea|ES ESP Spain|ET ETH Ethiopia|FI FIN Finland|FJ FJI Fiji
FK FLK Falkland Islands|FM FSM Micronesia|FO FRO Faroe Islands|FR FRA France|GA GAB Gabon|GB GBR United Kingdom
GD GRD Grenada|GE GEO Georgia|GF GUF French Guiana|GG GGY Guernsey|GH GHA Ghana|GI GIB Gibraltar|GL GRL Greenland
GM GMB Gambia|GN GIN Guinea|GP GLP Guadeloupe|GQ GNQ Equatorial Guinea|GR GRC Greece
GS SGS South Georgia and the South Sandwich Islands|GT GTM Guatemala|GU GUM Guam|GW GNB Guinea-Bissau|GY GUY Guyana
HK HKG Hong Kong|HM HMD Heard Island and McDonald Islands|HN HND Honduras|HR HRV Croatia|HT HTI Haiti|HU HUN Hungary
ID IDN Indonesia|IE IRL Ireland|IL ISR Israel|IM IMN Isle of Man|IN IND India|IO IOT British Indian Ocean Territory
IQ IRQ Iraq|IR IRN Iran|IS ISL Iceland|IT ITA Italy|JE JEY Jersey|JM JAM Jamaica|JO JOR Jordan|JP JPN Japan|KE KEN Kenya
KG KGZ Kyrgyzstan|KH KHM Cambodia|KI KIR Kiribati|KM COM Comoros|KN KNA Saint Kitts and Nevis|KP PRK North Korea
KR KOR South Korea|KW KWT Kuwait|KY CYM Cayman Islands|KZ KAZ Kazakhstan|LA LAO Laos|LB LBN Lebanon|LC LCA Saint Lucia
LI LIE Liechtenstein|LK LKA Sri Lanka|LR LBR Liberia|LS LSO Lesotho|LT LTU Lithuania|LU LUX Luxembourg|LV LVA Latvia
LY LBY Libya|MA MAR Morocco|MC MCO Monaco|MD MDA Moldova|ME MNE Montenegro|MF MAF Saint Martin|MG MDG Madagascar
MH MHL Marshall Islands|MK MKD North Macedonia|ML MLI Mali|MM MMR Myanmar|MN MNG Mongolia|MO MAC Macao
MP MNP Northern Mariana Islands|MQ MTQ Martinique|MR MRT Mauritania|MS MSR Montserrat|MT MLT Malta|MU MUS Mauritius
MV MDV Maldives|MW MWI Malawi|MX MEX Mexico|MY MYS Malaysia|MZ MOZ Mozambique|NA NAM Namibia|NC NCL New Caledonia
NE NER Niger|NF NFK Norfolk Island|NG NGA Nigeria|NI NIC Nicaragua|NL NLD Netherlands|NO NOR Norway|NP NPL Nepal
NR NRU Nauru|NU NIU Niue|NZ NZL New Zealand|OM OMN Oman|PA PAN Panama|PE PER Peru|PF PYF French Polynesia
PG PNG Papua New Guinea|PH PHL Philippines|PK PAK Pakistan|PL POL Poland|PM SPM Saint Pierre and Miquelon
PN PCN Pitcairn Islands|PR PRI Puerto Rico|PS PSE Palestine|PT PRT Portugal|PW PLW Palau|PY PRY Paraguay|QA QAT Qatar
RE REU Réunion|RO ROU Romania|RS SRB Serbia|RU RUS Russia|RW RWA Rwanda|SA SAU Saudi Arabia|SB SLB Solomon Islands
SC SYC Seychelles|SD SDN Sudan|SE SWE Sweden|SG SGP Singapore|SH SHN Saint Helena|SI SVN Slovenia
SJ SJM Svalbard and Jan Mayen|SK SVK Slovakia|SL SLE Sierra Leone|SM SMR San Marino|SN SEN Senegal|SO SOM Somalia
SR SUR Suriname|SS SSD South Sudan|ST STP São Tomé and Príncipe|SV SLV El Salvador|SX SXM Sint Maarten|SY SYR Syria
SZ SWZ Eswatini|TC TCA Turks and Caicos Islands|TD TCD Chad|TF ATF French Southern Territories|TG TGO Togo
TH THA Thailand|TJ TJK Tajikistan|TK TKL Tokelau|TL TLS Timor-Leste|TM TKM Turkmenistan|TN TUN Tunisia|TO TON Tonga
TR TUR Türkiye|TT TTO Trinidad and Tobago|TV TUV Tuvalu|TW TWN Taiwan|TZ TZA Tanzania|UA UKR Ukraine|UG UGA Uganda
UM UMI United States Minor Outlying Islands|US USA United States|UY URY Uruguay|UZ UZB Uzbekistan|VA VAT Vatican City
VC VCT Saint Vincent and the Grenadines|VE VEN Venezuela|VG VGB British Virgin Islands|VI VIR U.S. Virgin Islands
VN VNM Vietnam|VU VUT Vanuatu|WF WLF Wallis and Futuna|WS WSM Samoa|YE YEM Yemen|YT MYT Mayotte|ZA ZAF South Africa
ZM ZMB Zambia|ZW ZWE Zimbabwe
"""

# Other names people type, mapped to alpha-2.
_VARIANTS = {
    "GB": "UK|U.K.|Great Britain|Britain|England|Scotland|Wales|Northern Ireland|United Kingdom of Great Britain and "
    "Northern Ireland|GB|Grande-Bretagne|Vereinigtes Königreich",
    "US": "USA|U.S.A.|US|U.S.|United States of America|America|the United States|Vereinigte Staaten|États-Unis",
    "DE": "Deutschland|Federal Republic of Germany|Allemagne|Alemania",
    "FR": "République française|Frankreich",
    "ES": "España|Espana|Spanien",
    "IT": "Italia|Italien",
    "NL": "Holland|The Netherlands|Nederland|Niederlande",
    "BE": "Belgique|België|Belgien",
    "CH": "Schweiz|Suisse|Svizzera",
    "AT": "Österreich",
    "IE": "Éire|Republic of Ireland|Eire",
    "SE": "Sverige",
    "NO": "Norge",
    "DK": "Danmark",
    "FI": "Suomi",
    "PL": "Polska",
    "PT": "Portugal",
    "CZ": "Czech Republic|Česko",
    "GR": "Hellas|Ελλάδα",
    "RU": "Russian Federation|Россия",
    "KR": "Republic of Korea|Korea, Republic of|Korea",
    "KP": "Democratic People's Republic of Korea|Korea, Democratic People's Republic of",
    "CN": "People's Republic of China|PRC|中国",
    "TW": "Republic of China|Taiwan, Province of China",
    "JP": "Nippon|日本",
    "AE": "UAE|U.A.E.",
    "IR": "Iran, Islamic Republic of",
    "VN": "Viet Nam",
    "LA": "Lao People's Democratic Republic",
    "SY": "Syrian Arab Republic",
    "MD": "Moldova, Republic of",
    "TZ": "Tanzania, United Republic of",
    "VE": "Venezuela, Bolivarian Republic of",
    "BO": "Bolivia, Plurinational State of",
    "CD": "DRC|DR Congo|Congo, Democratic Republic of the|Congo-Kinshasa",
    "CG": "Congo|Congo-Brazzaville",
    "CI": "Ivory Coast|Cote d'Ivoire",
    "CV": "Cabo Verde",
    "MK": "Macedonia|Republic of North Macedonia",
    "TR": "Turkey|Turkiye",
    "SZ": "Swaziland",
    "MM": "Burma",
    "TL": "East Timor",
    "VA": "Holy See|Vatican",
    "FM": "Micronesia, Federated States of",
    "PS": "Palestine, State of|Palestinian Territories",
    "BN": "Brunei Darussalam",
    "MO": "Macau",
    "MX": "México",
    "BR": "Brasil",
    "NZ": "Aotearoa",
    "ZA": "RSA",
}


def _normalise(name: str) -> str:
    # Case, accents, punctuation and a leading "the" do not distinguish countries.
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    text = "".join(c for c in decomposed if not unicodedata.combining(c))
    text = "".join(c if c.isalnum() else " " for c in text)
    words = text.split()
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(words)


def _build() -> tuple[dict[str, str], dict[str, str]]:
    to_iso: dict[str, str] = {}
    names: dict[str, str] = {}
    for entry in _TABLE.replace("\n", "|").split("|"):
        if not entry.strip():
            continue
        alpha2, alpha3, name = entry.strip().split(" ", 2)
        names[alpha2] = name
        for key in (alpha2, alpha3, name):
            to_iso[_normalise(key)] = alpha2
    for alpha2, variants in _VARIANTS.items():
        for variant in filter(None, variants.split("|")):
            to_iso[_normalise(variant)] = alpha2.strip()
    return to_iso, names


_TO_ISO, COUNTRY_NAMES = _build()


@lru_cache(maxsize=4096)
def country_to_iso(name: str) -> str | None:
    """Alpha-2 code for a country name, variant, alpha-2 or alpha-3 code; None when unknown."""
    return _TO_ISO.get(_normalise(name))


def iso_to_country(code: str) -> str | None:
    """The table's English name for an alpha-2 (or alpha-3 / variant) code; None when unknown."""
    alpha2 = code.strip().upper()
    if alpha2 not in COUNTRY_NAMES:
        alpha2 = country_to_iso(code) or ""
    return COUNTRY_NAMES.get(alpha2)


def _unknown_policy(name: str, args: Any) -> str:
    policy = expect_mapping(name, args, {"unknown"}).get("unknown", "error")
    if policy not in ("error", "keep", "none"):
        raise ValueError(f"{name}: unknown is one of error, keep, none")
    return str(policy)


@register("country_to_iso")
def make_country_to_iso(args: Any) -> TransformFn:
    """Country name → ISO alpha-2 ("United Kingdom", "UK", "GBR" → "GB"). ``{unknown: error|keep|none}``."""
    policy = _unknown_policy("country_to_iso", args)

    def convert(value: Any, ctx: TransformContext) -> Any:
        text = str(value).strip()
        if not text:
            return None
        code = country_to_iso(text)
        if code is not None:
            return code
        if policy == "keep":
            return text
        if policy == "none":
            return None
        raise TransformError(f"unknown country {text!r}")

    return convert


@register("iso_to_country")
def make_iso_to_country(args: Any) -> TransformFn:
    """ISO alpha-2 → country name ("GB" → "United Kingdom"). ``{unknown: error|keep|none}``."""
    policy = _unknown_policy("iso_to_country", args)

    def convert(value: Any, ctx: TransformContext) -> Any:
        text = str(value).strip()
        if not text:
            return None
        name = iso_to_country(text)
        if name is not None:
            return name
        if policy == "keep":
            return text
        if policy == "none":
            return None
        raise TransformError(f"unknown country code {text!r}")

    return convert
