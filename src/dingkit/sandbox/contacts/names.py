"""Names the generated organisation draws from (see :mod:`.org`). Pure data.

Changing any list changes every seeded organisation, so tests that pin names would notice.
"""

from __future__ import annotations

__all__ = [
    "COMPANY",
    "DIVISIONS",
    "EMPTY_DEPARTMENT",
    "GIVEN",
    "NUMERALS",
    "ROOT_TITLES",
    "SURNAMES",
    "TITLES",
]

COMPANY = "沙箱科技有限公司"

#: Level-1 divisions: (name, kind, city, level-2 departments). ``kind`` picks the job titles.
DIVISIONS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "研发中心",
        "tech",
        "杭州",
        ("平台研发部", "移动研发部", "数据智能部", "测试部", "运维部", "安全部", "架构部"),
    ),
    ("产品中心", "product", "杭州", ("产品规划部", "用户体验部", "产品运营部")),
    (
        "销售中心",
        "sales",
        "上海",
        ("华东销售部", "华南销售部", "华北销售部", "西南销售部", "华中销售部", "海外销售部"),
    ),
    ("市场部", "marketing", "上海", ("品牌部", "市场推广部", "公关部")),
    ("客户成功部", "service", "成都", ("售前支持部", "售后服务部", "客户培训部")),
    ("人力资源部", "hr", "杭州", ("招聘部", "薪酬福利部", "培训发展部")),
    ("财务部", "finance", "杭州", ("会计部", "资金部", "税务部")),
    ("供应链中心", "supply", "武汉", ("采购部", "仓储部", "物流部", "计划部")),
    ("行政部", "admin", "杭州", ("行政服务部", "IT支持部")),
    ("法务部", "legal", "北京", ("合规部", "知识产权部")),
)

#: An always-empty level-1 department (a newly created one), for tests of empty pages.
EMPTY_DEPARTMENT = "新业务筹备组"

TITLES: dict[str, tuple[str, ...]] = {
    "tech": (
        "工程师",
        "高级工程师",
        "资深工程师",
        "前端工程师",
        "后端工程师",
        "测试工程师",
        "运维工程师",
        "数据分析师",
        "架构师",
    ),
    "product": ("产品经理", "高级产品经理", "交互设计师", "视觉设计师", "产品运营"),
    "sales": ("销售代表", "客户经理", "大客户经理", "销售助理"),
    "marketing": ("市场专员", "品牌经理", "内容运营", "公关专员"),
    "service": ("客服专员", "售前顾问", "实施顾问", "培训讲师"),
    "hr": ("招聘专员", "HRBP", "薪酬专员", "培训专员"),
    "finance": ("会计", "出纳", "财务分析师", "税务专员"),
    "supply": ("采购专员", "仓储专员", "物流专员", "计划专员"),
    "admin": ("行政专员", "前台", "IT工程师"),
    "legal": ("法务专员", "法律顾问", "合规专员"),
    "root": ("总裁助理", "战略分析师", "投资者关系经理"),
}
#: Titles of the people sitting directly in the company department, after the boss.
ROOT_TITLES = ("首席执行官", "首席技术官", "首席财务官", "首席运营官")

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红玲芬燕彬鹏辉宇浩凯健俊帆帅旭宁龙林"
    "欣佳琪晨思雨婷晶颖雪慧嘉博文睿哲翔子涵诺梓轩然怡航泽宸瑶琳梦露云峰阳毅"
)
NUMERALS = "一二三四五六七八九十"
