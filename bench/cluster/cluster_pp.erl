%% Cross-node ping-pong on Erlang distribution: the reference for the
%% "cross-node ping-pong" rows of bench/cluster/run.sh (docs/benchmarks.md,
%% "Cluster").
%%
%% Two nodes on one machine. The node this runs on spawns one process on
%% the peer node (which must have this module on its code path) and plays a
%% rally with it: the ball is a counter sent with the sender's pid, and
%% each side sends the counter minus one back, as examples/actors/pingpong.c
%% does between two Shoal actors. A round trip is one ball there and one
%% back. Timed with erlang:monotonic_time from the first send until the
%% ball 1 comes back, after the connection is up and a shorter untimed
%% rally.
%%
%%   erl -sname b@localhost -noshell -pa DIR -run cluster_pp main PEER N RUNS
%%
%% PEER is the other node's name (a@localhost), N the round trips per run.
%% Prints one line per run:
%%   RESULT rt_per_s R
%%   RESULT rt_us U          (mean round-trip time, 1 / R)
%% and halts with status 0, or 1 when the peer cannot be reached or a run
%% does not finish within 120 s.
-module(cluster_pp).
-export([main/1, player/0]).

-define(RUN_TIMEOUT_MS, 120000).

main([Peer, NStr, RunsStr]) ->
    PeerNode = list_to_atom(Peer),
    N = list_to_integer(NStr),
    Runs = list_to_integer(RunsStr),
    case connect(PeerNode, 500) of
        ok ->
            lists:foreach(fun(_) -> run(PeerNode, N) end, lists:seq(1, Runs)),
            halt(0);
        error ->
            io:format(standard_error, "cannot reach ~s~n", [Peer]),
            halt(1)
    end.

%% Up to Tries pings 20 ms apart: the peer may still be starting.
connect(_, 0) ->
    error;
connect(Node, Tries) ->
    case net_adm:ping(Node) of
        pong -> ok;
        pang -> timer:sleep(20), connect(Node, Tries - 1)
    end.

run(PeerNode, N) ->
    Remote = spawn(PeerNode, ?MODULE, player, []),
    %% An untimed rally first (a twentieth of the timed one, at least 10
    %% round trips), so that the remote process exists, the code is loaded
    %% there and the connection has carried traffic before the clock starts.
    rally(Remote, max(10, N div 20)),
    T0 = erlang:monotonic_time(),
    ok = rally(Remote, N),
    T1 = erlang:monotonic_time(),
    Remote ! stop,
    Us = erlang:convert_time_unit(T1 - T0, native, nanosecond) / 1000,
    io:format("RESULT rt_per_s ~.1f~n", [N / (Us / 1.0e6)]),
    io:format("RESULT rt_us ~.3f~n", [Us / N]).

%% N round trips: we send 2N, the peer answers 2N - 1, ..., we get 1.
rally(Remote, N) ->
    Remote ! {self(), 2 * N},
    wait_for_one().

wait_for_one() ->
    receive
        {_, 1} ->
            ok;
        {From, K} ->
            From ! {self(), K - 1},
            wait_for_one()
    after ?RUN_TIMEOUT_MS ->
        io:format(standard_error, "a rally did not finish within ~p ms~n",
                  [?RUN_TIMEOUT_MS]),
        halt(1)
    end.

%% The peer's side: answers every ball with the ball minus one.
player() ->
    receive
        {From, K} when K > 0 ->
            From ! {self(), K - 1},
            player();
        stop ->
            ok
    end.
