-- Never reads its inbox. With `topic`, subscribes to it (and never reads that either).
local function main(topic)
    if topic then
        process.listen(topic)
    end
    channel.new():receive()
end
return { main = main }
