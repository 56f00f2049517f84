"""What the tests run besides tests: decoder child processes, the fault proxy, layout
and fixture-dataset builders."""
