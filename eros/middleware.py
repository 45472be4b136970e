"""Query counting for benchmarks: ``X-Eros-Queries`` on each response when enabled.

Enabled by ``EROS_COUNT_QUERIES=true`` (the ``benchmark`` command sets it for the web process
it starts). Counting uses ``connection.execute_wrapper``, so it sees every SQL statement the
request ran, including those of services, without ``DEBUG``.
"""

from __future__ import annotations

from django.db import connection


class QueryCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        count = 0

        def counter(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counter):
            response = self.get_response(request)
        response["X-Eros-Queries"] = str(count)
        return response
