import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.normalize import province_of
from bot.normalize._places_data import PLACES, PROVINCES


@pytest.mark.parametrize(
    ("text", "province"),
    [
        ("河南", "河南"),
        ("河南省", "河南"),
        ("周口", "河南"),
        ("周口市", "河南"),
        ("河南周口", "河南"),
        ("我是河南省周口市沈丘县的", "河南"),
        ("信阳", "河南"),
        ("固始", "河南"),
        ("贵州毕节", "贵州"),
        ("毕节", "贵州"),
        ("赣州", "江西"),
        ("江西", "江西"),
        ("阜阳", "安徽"),
        ("南充", "四川"),
        ("四川南充", "四川"),
        ("义乌", "浙江"),
        ("宁波北仑", "浙江"),
        ("内蒙古", "内蒙古"),
        ("内蒙古自治区", "内蒙古"),
        ("广西壮族自治区", "广西"),
        ("新疆维吾尔自治区", "新疆"),
        ("北京市", "北京"),
        ("重庆万州", "重庆"),
        ("恩施州", "湖北"),
        ("凉山彝族自治州", "四川"),
        ("黔东南", "贵州"),
        ("青海海南州", "青海"),
        ("海南", "海南"),
        ("兴安盟", "内蒙古"),
        ("大兴安岭", "黑龙江"),
        ("江西南昌", "江西"),
        ("山东东营", "山东"),
        ("廣東", "广东"),
        ("黑龍江", "黑龙江"),
        ("臺灣", "台湾"),
        ("北京朝阳", "北京"),
        ("朝阳", "辽宁"),
        ("香港", "香港"),
    ],
)
def test_province_of_place(text: str, province: str) -> None:
    assert province_of(text) == province


@pytest.mark.parametrize(
    ("city", "province"),
    [
        ("石家庄", "河北"), ("大同", "山西"), ("鄂尔多斯", "内蒙古"), ("葫芦岛", "辽宁"),
        ("延边", "吉林"), ("七台河", "黑龙江"), ("宿迁", "江苏"), ("泰州", "江苏"),
        ("台州", "浙江"), ("亳州", "安徽"), ("宿州", "安徽"), ("宁德", "福建"),
        ("福州", "福建"), ("鹰潭", "江西"), ("抚州", "江西"), ("宜春", "江西"),
        ("伊春", "黑龙江"), ("菏泽", "山东"), ("驻马店", "河南"), ("恩施", "湖北"),
        ("湘西", "湖南"), ("云浮", "广东"), ("崇左", "广西"), ("玉林", "广西"),
        ("榆林", "陕西"), ("儋州", "海南"), ("甘孜", "四川"), ("黔西南", "贵州"),
        ("西双版纳", "云南"), ("那曲", "西藏"), ("商洛", "陕西"), ("甘南", "甘肃"),
        ("果洛", "青海"), ("中卫", "宁夏"), ("克孜勒苏", "新疆"), ("阜新", "辽宁"),
        ("十堰", "湖北"), ("六盘水", "贵州"), ("三门峡", "河南"), ("攀枝花", "四川"),
    ],
)
def test_prefecture_level_cities(city: str, province: str) -> None:
    assert province_of(city) == province


@pytest.mark.parametrize("text", ["", "老家", "豫", "三明治", "河南人在广东打工", "abc"])
def test_no_province(text: str) -> None:
    assert province_of(text) is None


def test_all_34_provincial_units_are_known() -> None:
    assert len(PROVINCES) == 34
    for province, forms in PROVINCES.items():
        for name in (province, *forms):
            assert province_of(name) == province


def test_each_place_belongs_to_exactly_one_known_province() -> None:
    seen: dict[str, str] = {}
    for province, names in PLACES.items():
        assert province in PROVINCES
        for name in names:
            assert seen.setdefault(name, province) == province, name
    assert len(seen) > 330


def test_every_listed_place_resolves_to_its_province_in_any_form() -> None:
    for province, names in PLACES.items():
        for name in names:
            for text in (name, f"{name}市", f"{name}县的", f"老家{province}{name}"):
                assert province_of(text) == province, text


@given(st.text())
def test_never_raises(text: str) -> None:
    province = province_of(text)
    assert province is None or province in PROVINCES
