from bench.webrtc.run import main

if __name__ == "__main__":
    main()
