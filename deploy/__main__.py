from deploy.run import main

raise SystemExit(main())
