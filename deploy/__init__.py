"""Run the dashboard beyond one server: N replicas behind nginx (:mod:`deploy.run`, ``python -m deploy``)."""

from deploy.run import Deployment, nginx_config

__all__ = ["Deployment", "nginx_config"]
