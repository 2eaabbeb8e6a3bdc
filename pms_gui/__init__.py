"""The operator console: widgets only. Every decision lives in pms_core; this package renders and forwards clicks."""
