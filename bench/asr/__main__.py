from bench.asr.run import cli

cli()
