"""The CPIMS portal: routes and pages over :mod:`cpxl.portal`, served by uvicorn.

Every page, style and script ships inside this package (no CDN): the portal works on an office
network with no internet. Pages show English and Khmer side by side.
"""

from cpxl.web.app import create_app

__all__ = ["create_app"]
