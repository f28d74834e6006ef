"""The fleet's private image registry through its v2 API: access (address, CA, login),
client (catalog, tags, manifests, deletes), listing (one row per tag with size and date),
gc (garbage collection on the registry host, local container or inventory host) and page
(a static HTML page of it). Needs only HTTP and the shared modules."""
