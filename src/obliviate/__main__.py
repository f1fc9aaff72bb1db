from obliviate.cli import main

main()
