%% The actor benchmark, Erlang's side: the same four workloads as
%% bench_actors.c, with plain processes, printed as "RESULT key value" lines
%% that bench/actors/run.sh collects. See docs/benchmarks.md, "Actors".
%%
%%   erl +S 2 +P 4194304 -noshell -pa DIR -run actors main WORKLOAD ARGS...
%%
%%   spawn N                 N idle processes, then kill them
%%   pingpong ROUND_TRIPS    a ring of two
%%   ring ACTORS LAPS        a token passed LAPS times around
%%   fanout MESSAGES WORKERS casts out and back, counted by a coordinator
%%
%% Every wait is bounded by BENCH_TIMEOUT_S seconds (default 600); a
%% workload that does not finish prints what it saw and halts with status 2.
-module(actors).
-export([main/1]).

main([Workload | Args]) ->
    Ints = [list_to_integer(A) || A <- Args],
    try run(Workload, Ints) of
        ok -> halt(0)
    catch
        throw:{give_up, What} ->
            io:format(standard_error, "actors.erl: ~s~n", [What]),
            halt(2)
    end.

run("spawn", [N]) -> bench_spawn(N);
run("pingpong", [RoundTrips]) -> bench_pingpong(RoundTrips);
run("ring", [N, Laps]) -> bench_ring(N, Laps);
run("fanout", [Msgs, Workers]) -> bench_fanout(Msgs, Workers).

%% ---- helpers ----

timeout_ms() ->
    case os:getenv("BENCH_TIMEOUT_S") of
        false -> 600000;
        S -> list_to_integer(S) * 1000
    end.

now_s() ->
    erlang:monotonic_time(microsecond) / 1.0e6.

%% Resident set size of this VM, in bytes, from /proc/self/status.
rss_bytes() ->
    {ok, Bin} = file:read_file("/proc/self/status"),
    [Line] = [L || L <- binary:split(Bin, <<"\n">>, [global]),
                   binary:match(L, <<"VmRSS:">>) =:= {0, 6}],
    [_, Kb, <<"kB">>] = binary:split(Line, [<<" ">>, <<"\t">>],
                                     [global, trim_all]),
    binary_to_integer(Kb) * 1024.

result(Key, Value) ->
    io:format("RESULT ~s ~.3f~n", [Key, float(Value)]).

give_up(Fmt, Args) ->
    throw({give_up, io_lib:format(Fmt, Args)}).

%% Waits until at most Live processes are left.
wait_count(Live) ->
    wait_count(Live, now_s() + timeout_ms() / 1000).

wait_count(Live, Deadline) ->
    Count = erlang:system_info(process_count),
    if
        Count =< Live -> ok;
        true ->
            case now_s() > Deadline of
                true -> give_up("timed out with ~b processes alive "
                                "(waiting for ~b)", [Count, Live]);
                false -> timer:sleep(1), wait_count(Live, Deadline)
            end
    end.

%% ---- 1. spawn N idle processes, then kill them ----

idle() ->
    receive _ -> idle() end.

%% Calls a new probe process: once it answers, the run queues have moved
%% past the processes spawned before it (as bench_actors.c's probe actor).
settle() ->
    Self = self(),
    Ref = make_ref(),
    Probe = spawn(fun() -> receive {From, R} -> From ! R end end),
    Probe ! {Self, Ref},
    receive Ref -> ok
    after timeout_ms() -> give_up("probe call timed out", [])
    end.

spawn_loop(0, Acc) -> Acc;
spawn_loop(N, Acc) -> spawn_loop(N - 1, [spawn(fun idle/0) | Acc]).

bench_spawn(N) ->
    Base = erlang:system_info(process_count),
    settle(),
    wait_count(Base),
    Rss0 = rss_bytes(),
    T0 = now_s(),
    Pids = spawn_loop(N, []),
    T1 = now_s(),
    settle(),
    T2 = now_s(),
    Rss1 = rss_bytes(),
    io:format("erlang: ~b processes alive; spawn loop ~.3f s, started ~.3f s;"
              " rss ~.1f -> ~.1f MiB~n",
              [erlang:system_info(process_count) - Base, T1 - T0, T2 - T0,
               Rss0 / 1048576, Rss1 / 1048576]),
    result("spawned", N),
    result("spawn_us", (T2 - T0) * 1.0e6 / N),
    result("spawn_loop_us", (T1 - T0) * 1.0e6 / N),
    result("rss_per_actor_bytes", (Rss1 - Rss0) / N),
    T3 = now_s(),
    lists:foreach(fun(P) -> exit(P, kill) end, Pids),
    T4 = now_s(),
    wait_count(Base),
    T5 = now_s(),
    io:format("erlang: kill loop ~.3f s, all exited ~.3f s; rss after"
              " ~.1f MiB~n", [T4 - T3, T5 - T3, rss_bytes() / 1048576]),
    result("kill_us", (T5 - T3) * 1.0e6 / N),
    ok.

%% ---- 2 and 3. a ring; two members play ping-pong ----

%% A member of a ring, as ring.wat: a token C > 0 goes on to Next as C - 1;
%% the member that receives 0 tells Parent and ends.
member(Parent, Next) ->
    receive
        0 -> Parent ! {done, self()};
        C -> Next ! C - 1, member(Parent, Next)
    end.

first_member(Parent) ->
    receive {next, Next} -> member(Parent, Next) end.

%% Builds a ring of N, sends a token of Passes to the first member and
%% returns the seconds until it ran out (at the first member, when Passes
%% is a multiple of N).
run_ring(N, Passes) ->
    Self = self(),
    Base = erlang:system_info(process_count),
    First = spawn(fun() -> first_member(Self) end),
    %% Members N-1 down to 1, each spawned knowing the one after it.
    Rest = lists:foldl(fun(_, [Next | _] = Acc) ->
                               [spawn(fun() -> member(Self, Next) end) | Acc]
                       end, [First], lists:seq(N - 1, 1, -1)),
    [Second | _] = Rest,
    First ! {next, Second},
    T0 = now_s(),
    First ! Passes,
    receive {done, First} -> ok
    after timeout_ms() -> give_up("ring of ~b: timed out", [N])
    end,
    T = now_s() - T0,
    [exit(P, kill) || P <- Rest, P =/= First],
    wait_count(Base),
    T.

bench_pingpong(RoundTrips) ->
    T = run_ring(2, 2 * RoundTrips),
    io:format("pingpong: ~b round trips in ~.3f s~n", [RoundTrips, T]),
    result("pingpong_rt_per_s", RoundTrips / T),
    ok.

bench_ring(N, Laps) ->
    T = run_ring(N, N * Laps),
    io:format("ring: ~b processes, ~b laps, ~b messages in ~.3f s~n",
              [N, Laps, N * Laps, T]),
    result("ring_msgs_per_s", N * Laps / T),
    ok.

%% ---- 4. fan-out/fan-in ----

%% As worker.wat: every message goes back to its sender.
worker() ->
    receive {From, X} -> From ! X, worker() end.

%% As coordinator.wat: casts M messages to the workers in turn, then
%% counts M replies and answers Parent.
coordinator(Workers, Parent) ->
    receive
        {go, M} ->
            send_loop(0, M, Workers, 1, tuple_size(Workers)),
            count(M),
            Parent ! {done, M}
    end.

send_loop(M, M, _, _, _) -> ok;
send_loop(I, M, Workers, W, NW) ->
    element(W, Workers) ! {self(), I},
    send_loop(I + 1, M, Workers, if W =:= NW -> 1; true -> W + 1 end, NW).

count(0) -> ok;
count(K) -> receive _ -> count(K - 1) end.

queue_data() ->
    case os:getenv("BENCH_ERL_ON_HEAP") of
        false -> off_heap;
        _ -> on_heap
    end.

bench_fanout(M, NW) ->
    Self = self(),
    Workers = list_to_tuple([spawn(fun worker/0) || _ <- lists:seq(1, NW)]),
    %% Its mailbox holds up to M replies while it sends. With the default
    %% (message_queue_data on_heap) every garbage collection of the
    %% coordinator scans that queue, which made this workload about 30 times
    %% slower on the machine of docs/benchmarks.md (47 s against 1.6 s);
    %% off_heap is OTP's setting for a process that receives a flood of
    %% messages. BENCH_ERL_ON_HEAP=1 runs it with the default.
    Coord = spawn_opt(fun() -> coordinator(Workers, Self) end,
                      [{message_queue_data, queue_data()}]),
    T0 = now_s(),
    Coord ! {go, M},
    receive {done, M} -> ok
    after timeout_ms() -> give_up("fanout: timed out", [])
    end,
    T = now_s() - T0,
    io:format("fanout: ~b requests to ~b workers, ~b replies, in ~.3f s~n",
              [M, NW, M, T]),
    result("fanout_s", T),
    result("fanout_msgs_per_s", 2 * M / T),
    [exit(W, kill) || W <- tuple_to_list(Workers)],
    ok.
