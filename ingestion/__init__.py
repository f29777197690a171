"""Finsam county pipeline: discover -> land -> validate -> load -> build -> publish -> alert.

One module per step; each is callable from the `finsam` CLI and from the Airflow DAG alike.
"""
