"""`dhr web`: the web app, with the timer scheduler running inside it."""

from __future__ import annotations

import os

import click

from engine.platform import logs
from engine.platform.settings import Settings, dev_audit_key_warning


@click.command("web")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--no-scheduler", is_flag=True, help="Do not fire timers in this process (another runs `dhr scheduler`).")
@click.option("--reload", is_flag=True, help="Restart when the code changes (development).")
def web(host: str, port: int, no_scheduler: bool, reload: bool) -> None:
    """Run the web application (and the timer scheduler) until stopped."""
    from werkzeug.serving import run_simple

    from engine.bpmn.scheduler import TimerScheduler
    from engine.platform import readiness
    from engine.platform.heartbeat import Heartbeat

    from . import create_app
    settings = Settings()
    # the development server's log reads as text (the product's messages from INFO up, e-mails
    # written to the log when no SMTP host is set among them) unless DHR_LOG_FORMAT asks for JSON
    logs.configure(settings.log_format if os.environ.get("DHR_LOG_FORMAT") else "text")
    app = create_app({"SETTINGS": settings})
    scheduler, heartbeat = None, None
    # Under the reloader the parent process only watches files: the scheduler runs in the child alone.
    if not no_scheduler and (not reload or os.environ.get("WERKZEUG_RUN_MAIN") == "true"):
        state = app.extensions["dhr"]
        heartbeat = Heartbeat(state.sessions, readiness.SCHEDULER)
        heartbeat.start()
        scheduler = TimerScheduler(state.sessions, state.clock, settings=state.settings)
        scheduler.start()
    click.echo(f"Domestic Homicide Reviews: http://{host}:{port}/ (Ctrl-C to stop)")
    if dev_audit_key_warning():
        click.echo(dev_audit_key_warning(), err=True)
    try:
        run_simple(host, port, app, use_reloader=reload, threaded=True)
    finally:
        if scheduler is not None:
            scheduler.shutdown()
        if heartbeat is not None:
            heartbeat.stop()
