"""What the tests share, one module per kind of thing (no test module imports another test module):

- `paths`: ROOT, the repository.
- `ports`: `free_port`, a loopback port unique in the run.
- `waiting`: `wait_for` (async), `wait_until` (sync), `no_tasks_left`.
- `configs`: `write_config`, `today_at`, `auto_site`.
- `site`: `SimulatedSite`, the simulator and the PMS runtime on one clock (`site.sim.plant` is its physical model).
- `broker`: `Mosquitto`, a real broker, and `Recorder`, a test's own MQTT client.
- `mqtt`: the PMS on a broker (`mqtt_site`), the topic base `B` and `ask`.
- `gui`: the console on a site (`gui_site`, `console`, `close_window`).
- `runner`: `start_runner`, the headless runner (main.py) as a process.
"""
