"""Write indexer/countries-i18n.tsv: country names in other languages, for indexer/markets.py.

Run on a Debian machine with the iso-codes package (its translations of ISO 3166-1):

    python scripts/countries_i18n.py > indexer/countries-i18n.tsv

Spaced scripts come from iso-codes' translations, minus names that are also everyday words
(Turkish "benim" is "my", Arabic "مالي" is "financial", Russian "того" is "of that") and
names of under four letters. Chinese, Japanese, Korean and Thai do not put spaces between
words, so a name there is matched inside running text: those come from a short list checked
by hand (Korean "인도" is also "delivery", katakana "タイ" starts "タイプ", left out).
"""

from __future__ import annotations

import gettext
import json
import sys
import unicodedata
from pathlib import Path

ISO = Path("/usr/share/iso-codes/json/iso_3166-1.json")
LOCALES = Path("/usr/share/locale")
LANGUAGES = (
    "de fr es pt it nl pl tr ru uk ar el id sv da nb fi cs ro hu".split()
)  # Vietnamese and Hebrew left out: one-syllable or everyday-word names ("đức", "בובה")
EVERYDAY = frozenset(
    "benim man fas того мали gana polen chili chad чад مالي عمان перу kina niger нигер "
    "guinea gine гана тонга togo сша".split()
    # English words or names the English list leaves out (indexer/countries.tsv)
    + "island jersey jordan georgia guernsey columbia".split()
)
UNSPACED = {
    "JP": "日本 일본",
    "CN": "中国 中國 중국",
    "KR": "韩国 韓国 韓國 南韓 한국 대한민국",
    "TW": "台湾 臺灣 台灣 대만 타이완",
    "HK": "香港 홍콩",
    "US": "米国 アメリカ 美国 美國 미국",
    "GB": "英国 イギリス 英國 영국",
    "DE": "ドイツ 德国 德國 독일",
    "FR": "フランス 法国 法國 프랑스",
    "TH": "泰国 泰國 태국 ประเทศไทย",
    "VN": "ベトナム 越南 베트남 ประเทศเวียดนาม",
    "ID": "インドネシア 印度尼西亚 印尼 인도네시아",
    "MY": "マレーシア 马来西亚 馬來西亞 말레이시아 ประเทศมาเลเซีย",
    "SG": "シンガポール 新加坡 싱가포르",
    "PH": "フィリピン 菲律宾 菲律賓 필리핀",
    "IN": "インド 印度",
    "AU": "オーストラリア 澳大利亚 澳洲 호주",
    "CA": "カナダ 加拿大 캐나다",
    "BR": "ブラジル 巴西 브라질",
    "MX": "メキシコ 墨西哥 멕시코",
    "ES": "スペイン 西班牙 스페인",
    "IT": "イタリア 意大利 義大利 이탈리아",
    "RU": "ロシア 俄罗斯 俄羅斯 러시아",
    "SA": "サウジアラビア 沙特阿拉伯 사우디아라비아",
    "AE": "アラブ首長国連邦 阿联酋 아랍에미리트",
    "TR": "トルコ 土耳其 튀르키예 터키",
    "NL": "オランダ 荷兰 荷蘭 네덜란드",
}


def _typed(name: str) -> str:
    """``name`` lower-cased as people type it: Turkish "İ" as "i" (not "i" and a combining
    dot), Arabic without its vowel marks ("السّعوديّة" is typed "السعودية")."""
    lowered = unicodedata.normalize("NFC", name.lower().replace("i\u0307", "i"))
    return "".join(c for c in lowered if not ("\u064b" <= c <= "\u065f" or c == "\u0670"))


def spaced_names() -> dict[str, str]:
    """Lower-cased translated name -> code, every language in LANGUAGES; a name two codes
    share is dropped."""
    seen: dict[str, set[str]] = {}
    for lang in LANGUAGES:
        tr = gettext.translation("iso_3166-1", str(LOCALES), languages=[lang])
        for country in json.loads(ISO.read_text(encoding="utf-8"))["3166-1"]:
            for key in ("common_name", "name"):
                if key in country:
                    name = _typed(tr.gettext(country[key]))
                    seen.setdefault(name, set()).add(country["alpha_2"])
    return {
        name: next(iter(codes))
        for name, codes in seen.items()
        if len(codes) == 1 and len(name) >= 4 and name not in EVERYDAY
    }


def main() -> None:
    known = {
        line.split("\t")[1]
        for line in Path(__file__)
        .parents[1]
        .joinpath("indexer/countries.tsv")
        .read_text("utf-8")
        .splitlines()
        if line and not line.startswith("#")
    }
    out = sys.stdout
    out.write(
        "# Country names in other languages, with their ISO 3166-1 alpha-2 code; written by\n"
        "# scripts/countries_i18n.py (Debian iso-codes translations; see its docstring).\n"
    )
    for name, code in sorted(spaced_names().items(), key=lambda nc: (nc[1], nc[0])):
        if name not in known:
            out.write(f"{code}\t{name}\n")
    out.write("# Unspaced scripts (matched inside running text): checked by hand.\n")
    for code, names in sorted(UNSPACED.items()):
        for name in names.split():
            out.write(f"{code}\t{name}\n")


if __name__ == "__main__":
    main()
