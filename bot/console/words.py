"""The words the console shows for the domain's codes (status, category, event, outcome …).

Status and category words come from the case domain, so the console, the worker's
messages and the exports say the same thing.
"""

from __future__ import annotations

from bot.cases.scheduler import KIND_WORDS as DEADLINE_WORDS
from bot.cases.workflow import ACTION_WORDS
from bot.cases.words import CATEGORY_WORDS, OUTCOME_WORDS, STATUS_WORDS
from bot.notify.texts import CHANNEL_WORDS as NOTIFY_CHANNEL_WORDS


EVENT_WORDS = {
    "opened": "立案", "accepted": "受理", "started": "开始处理", "referred": "转交外部机构",
    "resumed": "恢复处理", "resolved": "办结", "closed": "结案", "reopened": "重新打开", "withdrawn": "撤回",
    "escalated": "上报", "reassigned": "改派", "evidence_requested": "要求补充证据",
    "evidence_added": "收到证据", "deadline_breached": "超过时限", "collective_flagged": "疑似群体性纠纷",
    "rated": "职工评价", "review_offered": "可申请评审", "review_requested": "申请专家评审",
    "review_decided": "评审结果", "note": "内部备注", "assigned": "指派", "worker_messaged": "给职工发消息",
    "review_vote": "评审投票", "notification_sent": "通知已送达", "notification_held": "通知待送达", "notification_failed": "通知发送失败",
}

DELIVERY_WORDS = {"pending": "发送中", "sent": "已送达", "held": "等待职工上线", "dead": "发送失败"}

ROLE_WORDS = {"admin": "系统管理员", "org_admin": "单位管理员", "staff": "工作人员", "expert": "评审专家",
              "liaison": "老乡联络员", "company_rep": "企业工会",
              "annotator": "标注员"}

INTENT_WORDS = {
    "report_unpaid_wages": "欠薪", "report_overtime": "加班", "report_injury": "工伤", "report_dismissal": "辞退",
    "report_social_insurance": "社保", "ask_matchmaking_events": "联谊活动", "join_union": "入会",
    "check_case_status": "查进度", "request_human": "找人工", "greet": "打招呼", "goodbye": "再见", "thank": "感谢",
    "affirm": "肯定", "deny": "否定", "bot_challenge": "问是不是机器人", "out_of_scope": "不归工会管",
    "inform": "回答问题", "nlu_fallback": "没把握",
}

CHANNEL_WORDS = {**NOTIFY_CHANNEL_WORDS, "console": "控制台"}

HANDOFF_WORDS = {"waiting": "等待接入", "active": "对话中", "closed": "已交回机器人"}

ACCESS_WORDS = {"view_case": "查看案件", "show_phone": "查看电话", "download_evidence": "下载证据",
                "export_cases": "导出案件", "view_conversation": "查看对话"}

ACTION_LABELS = {**ACTION_WORDS, "note": "内部备注", "assign": "指派", "message": "给职工发消息",
                 "request_evidence": "要求补充证据"}

__all__ = [
    "ACCESS_WORDS", "ACTION_LABELS", "CATEGORY_WORDS", "CHANNEL_WORDS", "DEADLINE_WORDS", "DELIVERY_WORDS",
    "EVENT_WORDS", "HANDOFF_WORDS", "OUTCOME_WORDS", "ROLE_WORDS", "STATUS_WORDS",
]
