"""Rendering: what crmlab writes as HTML (see :mod:`crmlab.reporting.sanitize`)."""
