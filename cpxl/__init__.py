"""cpxl: Excel data collection for Cambodia's Child Protection Information Management System."""

__version__ = "0.1.0"
