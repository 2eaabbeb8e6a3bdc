"""PMS core: polling, devices, operation modes, MQTT and history; imports no Qt."""
