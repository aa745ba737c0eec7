"""The local DingTalk: a sandbox server that behaves like the real one."""
