"""Advice shared by rows of several families (the same words in the robot, old-API and
new-API tables)."""

from __future__ import annotations

#: A custom robot over its rate limit is blocked for 10 minutes (§2.3).
ROBOT_BLOCK_SECONDS = 600.0

BACKOFF = "Retry with exponential backoff and jitter."
REFRESH = "Drop the cached token, fetch a new one and retry once."
PASS_TOKEN = "Pass the token in the access_token query parameter."
CHECK_CREDENTIALS = "Check the app's Client ID (AppKey) and Client Secret in the developer console."
ALLOW_IP = "Add your server's public IP to the app's allow-list in the developer console."
APP_QPS_MEANING = "The per-app per-API QPS limit (20 calls/s on the standard edition) was exceeded."
QPS_ACTION = "Sleep 1 second, then retry with backoff; spread calls out to stay under the limit."
GLOBAL_QPS_ACTION = "Sleep at least 1 second, then retry with exponential backoff and jitter."
QPM_ACTION = "Wait (up to a minute) before retrying, then back off and lower the call rate."
QUOTA_MEANING = "The organisation's monthly call quota is used up (standard edition: 5000/month)."
QUOTA_ACTION = "Do not retry until next month; cut calls to non-exempt APIs or upgrade the edition."
ROBOT_RATE_LIMIT_MEANING = (
    "The robot sent over 20 messages in a minute and is now blocked for 10 minutes."
)
ROBOT_RATE_LIMIT_ACTION = (
    "Do not hammer the robot: stop sending through it for 10 minutes, then stay under "
    "20 messages per minute (queue or merge messages) and reuse msgUuid when resending."
)
ROBOT_TOKEN_ACTION = (
    "Use only the value after access_token= in the webhook URL (not the whole URL), "
    "and check that the robot still exists in the group settings."
)
APP_BANNED = "您的企业应用调用钉钉开放平台当前接口的所有请求都被暂时禁用了"
SERVER_BANNED = "您的服务器调用钉钉开放平台当前接口的所有请求都被暂时禁用了"
