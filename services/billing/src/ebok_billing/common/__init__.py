"""What billing's sub-domains share: money (``money``) and the connection and row types
every repository takes (``connection``)."""
